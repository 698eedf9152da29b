package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/proxytest"
)

// A drained persistent HTTP service under a request loop keeps answering,
// and once the loop ends nothing stays counted open (what `hactl standby
// --drain` waits for).
func TestQuiesceOpenConns(t *testing.T) {
	a, c := proxytest.HTTP(t, "a"), proxytest.HTTP(t, "c")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "web", Listen: listen, Mode: "http", Scheduler: "rr", Persistent: time.Minute, Reals: reals(a, c),
	}}})
	b.Activate("web")
	for i := range 200 {
		if i == 50 {
			if err := b.Quiesce(true, "web"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := httpGet(listen); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	testkit.WaitFor(t, "no request open on web", func() bool {
		n, err := b.OpenConns("web")
		return err == nil && n == 0
	})
}

// The drain state: Quiesce starts it (responses end keep-alive),
// Quiesce(false) and Activate end it, a reload that replaces the service
// keeps it.
func TestDrainingState(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	svc := ServiceConfig{Name: "web", Listen: proxytest.ClosedPort(t), Mode: "http", Reals: reals(a)}
	b := newBalancer(t, Config{Services: []ServiceConfig{svc}})
	b.Activate("web")
	draining := func(want bool, when string) {
		t.Helper()
		resp, err := keepAliveClient.Get("http://" + svc.Listen.String() + "/")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		resp.Body.Close()
		if resp.Close != want {
			t.Errorf("%s: response says Connection: close %v, want %v", when, resp.Close, want)
		}
	}
	draining(false, "before the drain")
	if err := b.Quiesce(true, "web"); err != nil {
		t.Fatal(err)
	}
	draining(true, "after Quiesce")
	if err := b.Quiesce(false, "web"); err != nil {
		t.Fatal(err)
	}
	draining(false, "after Quiesce(false)")
	b.Quiesce(true, "web")
	b.Deactivate("web")
	b.Activate("web")
	draining(false, "after a new activation")

	b.Quiesce(true, "web")
	svc.Listen = proxytest.ClosedPort(t) // a new listener: the service is replaced
	if err := b.Reload(Config{Services: []ServiceConfig{svc}}); err != nil {
		t.Fatal(err)
	}
	draining(true, "after a reload replacing the service")
}

var keepAliveClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
