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
