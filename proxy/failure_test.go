package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/proxytest"
)

// TestListenerFailureReported: a service whose listener fails on its own is
// reported through Options.OnFailure, so the node hands its group over
// (issue 9: the owner watches its listeners); removing a service is not a
// failure.
func TestListenerFailureReported(t *testing.T) {
	a := proxytest.TCP(t, "a")
	failed := make(chan string, 2)
	b := newBalancer(t, Config{Services: []ServiceConfig{{Name: "tcp", Listen: proxytest.ClosedPort(t), Reals: reals(a)}}},
		Options{OnFailure: func(service, reason string) { failed <- service + ": " + reason }})
	b.mu.Lock()
	s := b.services["tcp"]
	b.mu.Unlock()
	// An accept that times out is not a shortage the loop rides out: the
	// listener is unusable, as after a failure under it.
	if err := s.ln.SetDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	var got string
	testkit.WaitFor(t, "a failure report", func() bool {
		select {
		case got = <-failed:
			return true
		default:
			return false
		}
	})
	if !strings.HasPrefix(got, "tcp: service tcp stopped serving: ") {
		t.Errorf("OnFailure got %q, want the service and why it stopped", got)
	}
}
