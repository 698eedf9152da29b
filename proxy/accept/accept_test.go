package accept

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

func listen(t *testing.T) (*net.TCPListener, *Acceptor) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	a, err := New(ln)
	if err != nil {
		t.Fatal(err)
	}
	return ln, a
}

// checkAccepted checks that fd is a non-blocking socket connected to c.
func checkAccepted(t *testing.T, fd int, from netip.AddrPort, c net.Conn) {
	t.Helper()
	defer unix.Close(fd)
	if want := c.LocalAddr().(*net.TCPAddr).AddrPort(); from != want {
		t.Errorf("from = %v, want %v", from, want)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("flags = %#x, %v: want O_NONBLOCK", fl, err)
	}
	if n, err := unix.Write(fd, []byte("hi")); n != 2 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	buf := make([]byte, 2)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Errorf("client read %q, %v", buf, err)
	}
}

// A queued connection is taken with accept4, one that comes while Accept
// waits (on the Acceptor's epoll instance) too; both as descriptors.
func TestAccept(t *testing.T) {
	ln, a := listen(t)
	if _, _, err := a.TryAccept(); err != unix.EAGAIN {
		t.Fatalf("TryAccept with nothing queued = %v, want EAGAIN", err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fd, from, err := a.Accept()
	if err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, fd, from, c)

	type res struct {
		fd   int
		from netip.AddrPort
		err  error
	}
	got := make(chan res, 1)
	go func() { fd, from, err := a.Accept(); got <- res{fd, from, err} }()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkAccepted(t, r.fd, r.from, c2)
}

// Closing the listener ends a waiting Accept with net.ErrClosed.
func TestAcceptClosed(t *testing.T) {
	ln, a := listen(t)
	got := make(chan error, 1)
	go func() { _, _, err := a.Accept(); got <- err }()
	ln.Close()
	testkit.AwaitError(t, "Accept waiting when its listener closed", got, net.ErrClosed)
	if _, _, err := a.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

// Accept waits again after each connection it took: the edge the
// listener's next connection makes wakes it every time, also after a wait
// that found two queued.
func TestAcceptRearms(t *testing.T) {
	ln, a := listen(t)
	got := make(chan error)
	for i := range 20 {
		go func() {
			fd, _, err := a.Accept()
			if err == nil {
				unix.Close(fd)
			}
			got <- err
		}()
		n := 1 + i%2 // every other round two arrive at once
		for range n {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		testkit.AwaitError(t, fmt.Sprintf("Accept %d", i), got, nil)
		if n == 2 {
			fd, _, err := a.Accept()
			if err != nil {
				t.Fatalf("Accept of the second queued connection in round %d: %v", i, err)
			}
			unix.Close(fd)
		}
	}
}

// Close ends a waiting Accept at once with net.ErrClosed (the listener
// stays open), and every Accept after it.
func TestAcceptorClose(t *testing.T) {
	// Without Close's wake-up, Accept would wait this long.
	defer func(d time.Duration) { closeCheck = d }(closeCheck)
	closeCheck = time.Hour
	ln, a := listen(t)
	got := make(chan error, 1)
	go func() { _, _, err := a.Accept(); got <- err }()
	testkit.WaitFor(t, "Accept waiting", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.w != nil
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.AwaitError(t, "Accept waiting when its Acceptor closed", got, net.ErrClosed)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dialling the listener after the Acceptor closed: %v", err)
	}
	defer c.Close()
	if _, _, err := a.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestAcceptorCloseWithListener: an Acceptor told that its caller closes
// it with the listener does not look for the listener's close every
// closeCheck (a wake-up each, of an idle service): with closeCheck at
// 1 ms, closing only the listener leaves Accept waiting 50 of those
// later, and Close ends it at once. Without CloseWithListener the same
// close ends Accept (the control).
func TestAcceptorCloseWithListener(t *testing.T) {
	defer func(d time.Duration) { closeCheck = d }(closeCheck)
	closeCheck = time.Millisecond
	waiting := func(a *Acceptor) func() bool {
		return func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			return a.w != nil
		}
	}

	ln, a := listen(t)
	got := make(chan error, 1)
	go func() { _, _, err := a.Accept(); got <- err }()
	testkit.WaitFor(t, "Accept waiting", waiting(a))
	ln.Close()
	testkit.AwaitError(t, "Accept of a closed listener, without CloseWithListener", got, net.ErrClosed)

	ln, a = listen(t)
	a.CloseWithListener()
	go func() { _, _, err := a.Accept(); got <- err }()
	testkit.WaitFor(t, "Accept waiting", waiting(a))
	ln.Close()
	select {
	case err := <-got:
		t.Fatalf("Accept returned %v after its listener closed, though told to wait for Close", err)
	case <-time.After(50 * closeCheck): // a window of 50 closeChecks, not a wait for a condition
	}
	a.Close()
	testkit.AwaitError(t, "Accept when its Acceptor closed", got, net.ErrClosed)
}
