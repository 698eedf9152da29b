package testkit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

func TestKeysSignVerify(t *testing.T) {
	k := Keyring("secret")
	id, mac := k.Sign([]byte("msg"))
	if id != 1 || !k.Verify(id, []byte("msg"), mac) {
		t.Fatalf("Verify(Sign(msg)) = false, want true (id %d)", id)
	}
	if k.Verify(id, []byte("other"), mac) || k.Verify(2, []byte("msg"), mac) || Keyring("guess").Verify(id, []byte("msg"), mac) {
		t.Errorf("Verify accepted another message, key id or secret")
	}
}

func TestPollSeesAnotherGoroutine(t *testing.T) {
	var done atomic.Bool
	go done.Store(true)
	if !Poll(done.Load) {
		t.Errorf("Poll did not see the store within %v", WaitTimeout)
	}
}

// errorsT records Errorf calls instead of failing the test.
type errorsT struct {
	testing.TB
	errs []string
}

func (e *errorsT) Helper() {}

func (e *errorsT) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

func TestSubstrings(t *testing.T) {
	et := &errorsT{TB: t}
	Substrings(et, "output", "ready to move\nreleased", []string{"ready", "released"}, []string{"anyway"})
	if len(et.errs) != 0 {
		t.Errorf("all present, none absent: errors %q, want none", et.errs)
	}
	Substrings(et, "output", "moving anyway", []string{"ready"}, []string{"anyway"})
	want := []string{"output lacks \"ready\":\nmoving anyway", "output has \"anyway\", want it absent:\nmoving anyway"}
	if !slices.Equal(et.errs, want) {
		t.Errorf("one lacking, one present: errors %q, want %q", et.errs, want)
	}
}

func TestWantError(t *testing.T) {
	for _, tc := range []struct {
		err      error
		want     string
		done     bool
		failures []string
	}{
		{nil, "", false, nil},
		{errors.New("no answer after the event"), "no answer", true, nil},
		{errors.New("boom"), "", true, []string{"f() error = boom, want none"}},
		{nil, "no answer", true, []string{`f() error = <nil>, want one containing "no answer"`}},
		{errors.New("boom"), "no answer", true, []string{`f() error = boom, want one containing "no answer"`}},
	} {
		et := &errorsT{TB: t}
		if done := WantError(et, "f()", tc.err, tc.want); done != tc.done || !slices.Equal(et.errs, tc.failures) {
			t.Errorf("WantError(%v, %q) = %v, failures %q; want %v, %q", tc.err, tc.want, done, et.errs, tc.done, tc.failures)
		}
	}
}

func TestAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int32
	t.Run("serve", func(t *testing.T) {
		Accept(t, ln, func(c net.Conn) { handled.Add(1); c.Close() })
		for range 2 {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.Read(make([]byte, 1)) // returns once the handler closed it
			c.Close()
		}
	})
	// The subtest's cleanup closed the listener after the loop ended.
	if n := handled.Load(); n != 2 {
		t.Errorf("handled %d connections, want 2", n)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Errorf("dialing after the test ended succeeded, want the listener closed")
	}
}

// TestServeConns: each connection gets its index; Close ends handlers
// blocked on open connections and closes the listener.
func TestServeConns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := ServeConns(t, ln, func(c net.Conn, i int) {
		fmt.Fprintf(c, "%d\n", i)
		c.Read(make([]byte, 1)) // blocks until the client or Close closes c
	})
	for want := range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var got int
		if _, err := fmt.Fscan(c, &got); err != nil || got != want {
			t.Fatalf("connection %d read index %d, %v", want, got, err)
		}
	}
	Returns(t, "Close with two handlers blocked", func() error { s.Close(); return nil })
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Errorf("dialing after Close succeeded, want the listener closed")
	}
}

// TestWaitFDWaitsForData: WaitFD returns once bytes sent after it began
// waiting are readable, and they are then there to read.
func TestWaitFDWaitsForData(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	sent := make(chan error, 1)
	go func() {
		_, err := unix.Write(fds[1], []byte("x"))
		sent <- err
	}()
	WaitFD(t, fds[0], unix.POLLIN, "the byte")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if n, err := unix.Read(fds[0], b[:]); n != 1 || b[0] != 'x' {
		t.Fatalf("read %d %q, %v after WaitFD; want \"x\"", n, b[:max(n, 0)], err)
	}
}

// fatalT records a Fatalf and ends the calling goroutine, as testing.T's
// does, instead of failing the test.
type fatalT struct {
	testing.TB
	fatal string
}

func (f *fatalT) Helper() {}

func (f *fatalT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestWaitFDClosedDescriptor: a descriptor that is not open fails the
// wait at once (POLLNVAL), naming what was awaited, instead of passing
// as ready.
func TestWaitFDClosedDescriptor(t *testing.T) {
	// The highest number the process may open: nothing here opens it
	// (descriptors are handed out lowest first), as F_GETFD confirms.
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fd := int(min(lim.Cur, 1<<20)) - 1
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("descriptor %d: F_GETFD error %v, want EBADF (not open)", fd, err)
	}
	ft := &fatalT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		WaitFD(ft, fd, unix.POLLIN, "the byte")
	}()
	<-done
	if want := "waiting for the byte: descriptor " + strconv.Itoa(fd) + " is not open (POLLNVAL)"; ft.fatal != want {
		t.Errorf("WaitFD on a closed descriptor: failure %q, want %q", ft.fatal, want)
	}
}

// TestClosedPortNeverRepeats: addresses asked for one after another, none
// bound in between, are distinct and can all be bound together (the
// balancer test that asked for three listen addresses got one port
// twice), for TCP and UDP.
func TestClosedPortNeverRepeats(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		seen := map[netip.AddrPort]bool{}
		for i := range 3 {
			a := ClosedPort(t, network)
			if seen[a] {
				t.Fatalf("%s: call %d returned %v again", network, i+1, a)
			}
			seen[a] = true
		}
		for a := range seen {
			var c io.Closer
			var err error
			if network == "udp" {
				c, err = net.ListenPacket("udp4", a.String())
			} else {
				c, err = net.Listen("tcp4", a.String())
			}
			if err != nil {
				t.Fatalf("%s: binding %v: %v", network, a, err)
			}
			defer c.Close()
		}
	}
}

// TestFreeUDPPairNeverRepeats: two ports asked for one after another,
// neither bound in between, differ.
func TestFreeUDPPairNeverRepeats(t *testing.T) {
	seen := map[uint16]bool{}
	for i := range 5 {
		p := FreeUDPPair(t)
		if seen[p] {
			t.Fatalf("call %d returned port %d again", i+1, p)
		}
		seen[p] = true
	}
}
