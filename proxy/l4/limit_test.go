package l4

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/connlimit"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// TestTCPMaxConn: at the service's maxconn the proxy stops accepting; the
// next client waits in the backlog and is served once a connection ends
// (HAProxy's maxconn; issue 9 case 6).
func TestTCPMaxConn(t *testing.T) {
	a := proxytest.TCP(t, "a")
	ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := connlimit.New(1)
	tp := NewTCP(upstreamtest.NewPicker(a.Addr), TCPConfig{}, nil)
	tp.SetActive(true)
	done := make(chan struct{})
	tp.SetGate(connlimit.NewGate(lim), done)
	served := make(chan error, 1)
	go func() { served <- tp.Serve(ln) }()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		<-served
		tp.Close()
	})
	first, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	testkit.WaitFor(t, "first connection accepted", func() bool { return tp.Stats().Accepted == 1 })
	second, err := net.Dial("tcp", ln.Addr().String()) // completes in the kernel backlog
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	testkit.WaitFor(t, "accept loop waiting at maxconn", func() bool { return lim.Stats().Waits == 1 })
	if st := tp.Stats(); st.Accepted != 1 {
		t.Fatalf("accepted %d connections with maxconn 1, want 1", st.Accepted)
	}
	first.Close()
	io.WriteString(second, "late")
	second.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(second)
	if err != nil || string(got) != "late|a" {
		t.Errorf("second client after the first closed = %q, %v, want %q", got, err, "late|a")
	}
}
