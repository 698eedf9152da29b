package proxy

import (
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
