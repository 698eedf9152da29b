package evloop

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// dialer is a Connector that redials the addresses in next, in order.
type dialer struct {
	*recorder
	next      []netip.AddrPort
	connected chan struct{}
	redials   []error // the loop goroutine's until Closed
}

func (d *dialer) Connected() { close(d.connected) }

func (d *dialer) Redial(err error) int {
	d.redials = append(d.redials, err)
	for len(d.next) > 0 {
		addr := d.next[0]
		d.next = d.next[1:]
		if fd, err := Connect(addr); err == nil {
			return fd
		}
	}
	return -1
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) netip.AddrPort { return testkit.ClosedPort(t, "tcp") }

// TestConnecting: a refused connect is redialled to the next address,
// which then relays; an expired connect and a last refusal end the pair
// with their errors.
func TestConnecting(t *testing.T) {
	real, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	start := func(t *testing.T, first netip.AddrPort, next ...netip.AddrPort) (*net.TCPConn, *Pair, *dialer) {
		client, cfd := loopbackConn(t)
		d := &dialer{recorder: newRecorder(), next: next, connected: make(chan struct{})}
		rfd, err := Connect(first)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewConnecting(cfd, rfd, d)
		if err != nil {
			t.Fatal(err)
		}
		p.Start()
		return client, p, d
	}
	t.Run("refused, then the next real", func(t *testing.T) {
		client, _, d := start(t, closedPort(t), real.Addr().(*net.TCPAddr).AddrPort())
		io.WriteString(client, "hi") // waits in the client's socket until connected
		s, err := real.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.SetDeadline(time.Now().Add(10 * time.Second))
		<-d.connected
		got := make([]byte, 2)
		if _, err := io.ReadFull(s, got); err != nil || string(got) != "hi" {
			t.Fatalf("real read %q, %v; want hi", got, err)
		}
		client.Close()
		s.Close()
		if c := d.wait(t); c.err != nil || len(d.redials) != 1 || !errors.Is(d.redials[0], unix.ECONNREFUSED) {
			t.Errorf("Closed(%v), redials %v; want nil after one ECONNREFUSED", c.err, d.redials)
		}
	})
	t.Run("expired", func(t *testing.T) {
		_, p, d := start(t, real.Addr().(*net.TCPAddr).AddrPort())
		p.Expire(1) // before the loop saw the connect complete, or after: attempt 1 either way
		select {
		case <-d.connected:
			return // connected first: Expire must then do nothing
		case c := <-d.closed:
			if c.err != ErrConnectTimeout {
				t.Errorf("Closed(%v), want ErrConnectTimeout", c.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("neither Connected nor Closed within 10s")
		}
	})
	t.Run("last refused", func(t *testing.T) {
		client, _, d := start(t, closedPort(t))
		if c := d.wait(t); !errors.Is(c.err, unix.ECONNREFUSED) {
			t.Errorf("Closed(%v), want ECONNREFUSED", c.err)
		}
		if _, err := io.ReadAll(client); !errors.Is(err, unix.ECONNRESET) {
			t.Errorf("client read = %v, want ECONNRESET", err)
		}
	})
}
