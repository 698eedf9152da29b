package proxy

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

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
	// A listener shut down under the service (accept4 fails with EINVAL)
	// is not a shortage the accept loop rides out: it is unusable.
	rc, err := s.ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_RD) }); err != nil || serr != nil {
		t.Fatalf("shutting the listener down: %v, %v", err, serr)
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
