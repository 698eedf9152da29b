package l7

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/accept"
)

// sockPair returns a clientSock accepted from a loopback listener and the
// client's end of its connection.
func sockPair(t *testing.T) (*clientSock, *net.TCPConn) {
	t.Helper()
	fd, from, c := acceptLoopback(t)
	s := newClientSock(fd, from)
	t.Cleanup(func() { s.Close() })
	return s, c
}

// acceptLoopback returns a connection accepted (package accept) from a
// loopback listener, and the client's end, closed when the test ends.
func acceptLoopback(t *testing.T) (fd int, from netip.AddrPort, c *net.TCPConn) {
	t.Helper()
	ln, c := testkit.DialLoopback(t)
	t.Cleanup(func() { c.Close() })
	acc, err := accept.New(ln)
	if err != nil {
		t.Fatal(err)
	}
	fd, from, err = acc.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if from != c.LocalAddr().(*net.TCPAddr).AddrPort() {
		t.Errorf("accepted from %v, want %v", from, c.LocalAddr())
	}
	return fd, from, c
}

// waitReadable waits (bounded) until fd has something to read, without
// reading it.
func waitReadable(t *testing.T, fd int) {
	t.Helper()
	testkit.WaitFD(t, fd, unix.POLLIN, "something to read")
}

func noDelay(t *testing.T, fd int) int {
	t.Helper()
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A connection whose exchanges never wait stays out of Go's poller and
// sets no TCP_NODELAY for an answer sent at once; the first wait puts it
// in the poller, and a second send sets TCP_NODELAY.
func TestSockRegistersOnlyToWait(t *testing.T) {
	s, c := sockPair(t)
	io.WriteString(c, "request")
	waitReadable(t, s.fd)
	buf := make([]byte, 64)
	if n, err := s.Read(buf); err != nil || string(buf[:n]) != "request" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := s.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if s.rw.Load() != nil {
		t.Error("registered with the poller without waiting")
	}
	if noDelay(t, s.fd) != 0 {
		t.Error("TCP_NODELAY set for a single send")
	}
	if _, err := s.Write([]byte(" more")); err != nil {
		t.Fatal(err)
	}
	if noDelay(t, s.fd) == 0 {
		t.Error("second send without TCP_NODELAY: it could wait for the first one's ACK (Nagle)")
	}
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() { n, err := s.Read(buf); done <- result{string(buf[:n]), err} }()
	testkit.WaitFor(t, "Read waiting in the poller", func() bool { return s.rw.Load() != nil })
	io.WriteString(c, "next")
	if r := <-done; r.err != nil || r.s != "next" {
		t.Fatalf("waiting Read = %q, %v", r.s, r.err)
	}
	got := make([]byte, len("answer more"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "answer more" {
		t.Errorf("client read %q, %v", got, err)
	}
}

// A read deadline in the past fails Read even with data queued, before
// and after the socket is in the poller (watch.go's disarm relies on it),
// and clearing it gives the data.
func TestSockPastDeadlineWithData(t *testing.T) {
	s, c := sockPair(t)
	buf := make([]byte, 64)
	for _, registered := range []bool{false, true} {
		if registered {
			s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := s.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read with nothing queued = %v, want a timeout", err)
			}
			if s.rw.Load() == nil {
				t.Fatal("not in the poller after a wait")
			}
		}
		io.WriteString(c, "data")
		waitReadable(t, s.fd)
		s.SetReadDeadline(aLongTimeAgo)
		_, err := s.Read(buf)
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("registered=%v: Read past the deadline = %v, want a timeout", registered, err)
		}
		s.SetReadDeadline(time.Time{})
		if n, err := s.Read(buf); err != nil || string(buf[:n]) != "data" {
			t.Errorf("registered=%v: Read = %q, %v", registered, buf[:n], err)
		}
	}
}

// A deadline set from another goroutine wakes a waiting Read, as the
// watch's disarm does; a future deadline ends the wait when it comes.
func TestSockDeadlineWakesRead(t *testing.T) {
	s, _ := sockPair(t)
	done := make(chan error, 1)
	go func() { _, err := s.Read(make([]byte, 1)); done <- err }()
	testkit.WaitFor(t, "Read waiting in the poller", func() bool { return s.rw.Load() != nil })
	s.SetReadDeadline(aLongTimeAgo)
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("woken Read = %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetReadDeadline did not wake the Read")
	}
	s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read = %v, want a timeout", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond || d > 5*time.Second {
		t.Errorf("timed out after %v, want about 30ms", d)
	}
}

// Close from another goroutine wakes a waiting Read with net.ErrClosed;
// while a call still uses the descriptor it stays open (shut down, so the
// client sees the end), and it is closed when that call ends: its number
// cannot go to the next accepted connection under the call.
func TestSockCloseWhileInUse(t *testing.T) {
	s, c := sockPair(t)
	done := make(chan error, 1)
	go func() { _, err := s.Read(make([]byte, 1)); done <- err }()
	testkit.WaitFor(t, "Read waiting in the poller", func() bool { return s.rw.Load() != nil })
	s.Close()
	testkit.AwaitError(t, "the Read that Close woke", done, net.ErrClosed)
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client read = %v, want EOF", err)
	}

	// The same with the call's reference held by hand, not in the poller.
	s, c = sockPair(t)
	local, _ := unix.Getsockname(s.fd)
	if !s.acquire() {
		t.Fatal("acquire refused before Close")
	}
	s.Close()
	if got, err := unix.Getsockname(s.fd); err != nil || got.(*unix.SockaddrInet4).Port != local.(*unix.SockaddrInet4).Port {
		t.Fatalf("descriptor closed under a call using it: getsockname = %v, %v", got, err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client read after Close = %v, want EOF (shutdown)", err)
	}
	s.release()
	if got, err := unix.Getsockname(s.fd); err == nil {
		if sa, ok := got.(*unix.SockaddrInet4); ok && sa.Port == local.(*unix.SockaddrInet4).Port {
			t.Error("descriptor still open after the last call ended")
		}
	}
}

// CloseWrite sends the end of the stream and leaves reading open.
func TestSockCloseWrite(t *testing.T) {
	s, c := sockPair(t)
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client read = %v, want EOF", err)
	}
	io.WriteString(c, "still")
	c.CloseWrite()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(s); err != nil || string(b) != "still" {
		t.Errorf("ReadAll = %q, %v", b, err)
	}
	if a := s.LocalAddr().(*net.TCPAddr); a.Port != c.RemoteAddr().(*net.TCPAddr).Port {
		t.Errorf("LocalAddr = %v, want %v", a, c.RemoteAddr())
	}
}

// Many connections of every kind the fast path ends (closed after one
// answer, kept alive then left idle, handed to net/http) leave no
// descriptor open and nothing counted in Stats.Open.
func TestSockNoDescriptorLeak(t *testing.T) {
	_, px, addr := newScriptReal(t)
	reqs := []string{
		"GET /cl HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n",
		"GET /cl HTTP/1.1\r\nHost: svc\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
	}
	round := func() {
		for _, req := range reqs {
			c, br := dialProxy(t, addr)
			if resp, _ := ask(t, c, br, req, "GET"); resp.StatusCode != 200 {
				t.Fatalf("%q: status %d", req, resp.StatusCode)
			}
			c.Close()
		}
	}
	round() // the real's pooled connections and net/http's server start
	testkit.WaitFor(t, "connections closed", func() bool { return px().Stats().Open == 0 })
	before := testkit.OpenFDs(t)
	for range 100 {
		round()
	}
	testkit.WaitFor(t, "connections closed", func() bool { return px().Stats().Open == 0 })
	testkit.WaitFor(t, "descriptors closed", func() bool { return testkit.OpenFDs(t) <= before })
	if n := px().handOffs.Load(); n != 101 {
		t.Errorf("%d hand-offs, want 101", n)
	}
}

// The answer after lastWrite waits in the kernel for the FIN: Close sends
// both, with shutdown(2) or, for a clean close, close(2) alone; a Read
// that comes instead of Close sends the answer first.
func TestSockLastWrite(t *testing.T) {
	for _, then := range []string{"close", "clean close", "read"} {
		s, c := sockPair(t)
		if then == "read" {
			io.WriteString(c, "x") // the Read must not wait: a wait sets TCP_NODELAY, which pushes too
			waitReadable(t, s.fd)
		}
		s.lastWrite(then == "clean close")
		if _, err := s.Write([]byte("answer")); err != nil {
			t.Fatal(err)
		}
		if s.last || !s.corked.Load() {
			t.Fatalf("after the last write: last=%v corked=%v", s.last, s.corked.Load())
		}
		if n := unsent(t, s.fd); n != len("answer") {
			t.Errorf("%d bytes left unsent in the kernel, want the answer's %d (MSG_MORE)", n, len("answer"))
		}
		done := make(chan error, 1)
		if then != "read" {
			done <- s.Close()
		} else {
			_, err := s.Read(make([]byte, 1))
			done <- err
			if n := unsent(t, s.fd); n != 0 {
				t.Errorf("%d bytes left unsent after a Read, want 0", n)
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len("answer"))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "answer" {
			t.Fatalf("then %s: client read %q, %v", then, got, err)
		}
		if then != "read" {
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("then %s: client read after the answer = %v, want EOF", then, err)
			}
		} else {
			c.Close()
		}
		if err := <-done; err != nil {
			t.Errorf("then %s: %v", then, err)
		}
		if s.rw.Load() != nil {
			t.Errorf("then %s: in the poller", then)
		}
	}
}

// unsent returns the bytes in fd's send queue not sent yet (SIOCOUTQNSD,
// tcp(7)).
func unsent(t *testing.T, fd int) int {
	t.Helper()
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQNSD)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A client that sent bytes the proxy did not read gets a reset when the
// connection closes (close(2)); the answer left waiting for the FIN
// (lastWrite) goes out before it.
func TestSockLastWriteBeforeReset(t *testing.T) {
	s, c := sockPair(t)
	io.WriteString(c, "unread")
	waitReadable(t, s.fd)
	s.lastWrite(false)
	if _, err := s.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("answer"))
	if n, err := io.ReadFull(c, got); err != nil || string(got) != "answer" {
		t.Errorf("client read %q, %v; want the answer before the reset", got[:n], err)
	}
}
