package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	b, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestReadWriteEOF(t *testing.T) {
	a, b := pair(t)
	ra, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	// More than the socket buffers hold: Write must wait for room.
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i % 251)
	}
	werr := make(chan error, 1)
	go func() {
		n, err := ra.Write(big)
		if err == nil && n != len(big) {
			err = errors.New("short write")
		}
		if err == nil {
			err = a.CloseWrite()
		}
		werr <- err
	}()
	b.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(rb)
	if err != nil {
		t.Fatalf("ReadAll = %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("Write = %v", err)
	}
	if len(got) != len(big) {
		t.Fatalf("read %d bytes, want %d", len(got), len(big))
	}
	for i := range got {
		if got[i] != big[i] {
			t.Fatalf("byte %d = %d, want %d", i, got[i], big[i])
		}
	}
	if n, err := rb.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestDeadlineAndClose(t *testing.T) {
	a, b := pair(t)
	rb, err := New(b)
	if err != nil {
		t.Fatal(err)
	}
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := rb.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	b.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := rb.Read(make([]byte, 1))
		done <- err
	}()
	// Most likely waiting by then; either way the Read must end with
	// net.ErrClosed.
	time.Sleep(20 * time.Millisecond)
	b.Close()
	testkit.AwaitError(t, "Read on a closed conn", done, net.ErrClosed)
	// The peer reset: a write gets an error, never SIGPIPE.
	ra, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for range 100 {
		if _, werr = ra.Write([]byte("x")); werr != nil {
			break
		}
		time.Sleep(time.Millisecond) // the RST takes a moment to come back
	}
	if !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, syscall.ECONNRESET) {
		t.Errorf("Write to a closed peer = %v, want EPIPE or ECONNRESET", werr)
	}
}

// TestSendWithRead: the Read after SendWithRead sends the request, then
// returns the answer, for many exchanges in a row (an answer lost to the
// poller's reset would hang until the deadline), for a request larger
// than the socket buffers (the short send is completed before the read),
// and with a peer that reset the connection (the send's error, not a
// read's).
func TestSendWithRead(t *testing.T) {
	t.Run("exchanges", func(t *testing.T) {
		a, b := pair(t)
		ra, err := New(a)
		if err != nil {
			t.Fatal(err)
		}
		a.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { // an echo server, one read and one write per request
			buf := make([]byte, 64)
			for {
				n, err := b.Read(buf)
				if err != nil {
					return
				}
				if _, err := b.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 64)
		for i := range 2000 {
			req := []byte{'q', byte(i), byte(i >> 8)}
			ra.SendWithRead(req)
			n, err := io.ReadFull(ra, buf[:len(req)])
			if err != nil || string(buf[:n]) != string(req) {
				t.Fatalf("exchange %d: read %q, %v; want %q", i, buf[:n], err, req)
			}
		}
	})
	t.Run("short send", func(t *testing.T) {
		a, b := pair(t)
		ra, err := New(a)
		if err != nil {
			t.Fatal(err)
		}
		a.SetDeadline(time.Now().Add(10 * time.Second))
		big := make([]byte, 8<<20)
		for i := range big {
			big[i] = byte(i % 251)
		}
		got := make(chan error, 1)
		go func() { // reads all of the request, then answers
			rest := make([]byte, len(big))
			if _, err := io.ReadFull(b, rest); err != nil {
				got <- err
				return
			}
			for i := range rest {
				if rest[i] != big[i] {
					got <- errors.New("request corrupted")
					return
				}
			}
			_, err := b.Write([]byte("ok"))
			got <- err
		}()
		ra.SendWithRead(big)
		buf := make([]byte, 2)
		if _, err := io.ReadFull(ra, buf); err != nil || string(buf) != "ok" {
			t.Fatalf("read %q, %v; want ok", buf, err)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reset peer", func(t *testing.T) {
		a, b := pair(t)
		ra, err := New(a)
		if err != nil {
			t.Fatal(err)
		}
		a.SetDeadline(time.Now().Add(10 * time.Second))
		b.SetLinger(0)
		b.Close() // an RST
		// The RST has come once a read sees it; then the send fails.
		testkit.WaitFor(t, "the peer's reset", func() bool {
			var one [1]byte
			rc, _ := a.SyscallConn()
			var rerr error
			rc.Read(func(fd uintptr) bool { _, rerr = Recv(fd, one[:], syscall.MSG_PEEK); return true })
			return rerr == syscall.ECONNRESET
		})
		ra.SendWithRead([]byte("request"))
		_, err = ra.Read(make([]byte, 8))
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Syscall != "sendto" {
			t.Fatalf("read after a reset: %v; want the send's *os.SyscallError", err)
		}
	})
}
