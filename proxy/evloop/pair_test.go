package evloop

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// recorder is a Handler that keeps what it heard.
type recorder struct {
	mu     sync.Mutex
	ended  map[int]uint64
	closed chan closedCall
}

type closedCall struct {
	err error
	n   [2]uint64
}

func newRecorder() *recorder {
	return &recorder{ended: map[int]uint64{}, closed: make(chan closedCall, 1)}
}

func (r *recorder) Ended(side int, n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.ended[side]; dup {
		panic("Ended twice for one side")
	}
	r.ended[side] = n
}

func (r *recorder) Closed(err error, n [2]uint64) { r.closed <- closedCall{err, n} }

func (r *recorder) endedCopy() map[int]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[int]uint64{}
	for k, v := range r.ended {
		m[k] = v
	}
	return m
}

// wait returns the Closed call, failing the test after 10s.
func (r *recorder) wait(t *testing.T) closedCall {
	t.Helper()
	select {
	case c := <-r.closed:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("Closed not called within 10s")
		return closedCall{}
	}
}

// peers returns two loopback connections (the test's ends) and a Pair
// relaying between their far ends, started: what a writes comes out of b.
func peers(t *testing.T) (a, b *net.TCPConn, p *Pair, r *recorder) {
	t.Helper()
	a, fa := loopbackConn(t)
	b, fb := loopbackConn(t)
	r = newRecorder()
	p, err := New(fa, fb, r)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	return a, b, p, r
}

// loopbackConn returns the client end of a new loopback TCP connection
// and the descriptor of its server end, taken out of the net package.
func loopbackConn(t *testing.T) (*net.TCPConn, int) {
	t.Helper()
	ln, c := testkit.DialLoopback(t)
	defer ln.Close() // now: TestNoFDLeak counts descriptors before the test ends
	c.SetDeadline(time.Now().Add(10 * time.Second))
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.File() // a duplicate in blocking mode: set it back
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	return c, fd
}

// TestHalfClose: each side's FIN reaches the other as a half-close while
// the other direction carries on, both ways round; both FINs close the
// pair without an error.
func TestHalfClose(t *testing.T) {
	for first := range 2 {
		t.Run([]string{"side 0 first", "side 1 first"}[first], func(t *testing.T) {
			a, b, _, r := peers(t)
			ends := [2]*net.TCPConn{a, b}
			x, y := ends[first], ends[1-first]
			io.WriteString(x, "hello")
			x.CloseWrite()
			if got, err := io.ReadAll(y); err != nil || string(got) != "hello" {
				t.Fatalf("far end read %q, %v; want hello and EOF", got, err)
			}
			testkit.WaitFor(t, "Ended reported", func() bool { _, ok := r.endedCopy()[first]; return ok })
			io.WriteString(y, "answer")
			y.CloseWrite()
			if got, err := io.ReadAll(x); err != nil || string(got) != "answer" {
				t.Fatalf("half-closed end read %q, %v; want the answer and EOF", got, err)
			}
			c := r.wait(t)
			var want [2]uint64
			want[first], want[1-first] = 5, 6
			if c.err != nil || c.n != want {
				t.Errorf("Closed(%v, %v), want Closed(nil, %v)", c.err, c.n, want)
			}
			if e := r.endedCopy(); len(e) != 1 || e[first] != 5 {
				t.Errorf("Ended calls %v, want only side %d with 5 bytes", e, first)
			}
		})
	}
}

// startAfterFIN starts a Pair relaying fa to fb once the FIN sent to fa
// is queued there (poll(2) reports POLLRDHUP), so that its first event
// reports the data and the FIN at once, and returns its Handler.
func startAfterFIN(t *testing.T, fa, fb int) *recorder {
	t.Helper()
	testkit.WaitFD(t, fa, unix.POLLRDHUP, "the FIN")
	r := newRecorder()
	p, err := New(fa, fb, r)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	return r
}

// TestDataThenFIN: data with the sender's FIN queued behind it before the
// pair's first event (EPOLLIN and EPOLLRDHUP at once): every byte comes
// out, then the EOF, for sizes below, at and above one read buffer.
func TestDataThenFIN(t *testing.T) {
	for _, size := range []int{1, 3000, bufSize, bufSize + 1, 3*bufSize + 7} {
		a, fa := loopbackConn(t)
		b, fb := loopbackConn(t)
		msg := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		if _, err := a.Write(msg); err != nil {
			t.Fatal(err)
		}
		a.CloseWrite()
		// The FIN is queued at fa once poll(2) reports POLLRDHUP there.
		r := startAfterFIN(t, fa, fb)
		got, err := io.ReadAll(b)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: far end read %d bytes, %v; want %d and EOF", size, len(got), err, size)
		}
		b.CloseWrite()
		if c := r.wait(t); c.err != nil || c.n != [2]uint64{uint64(size), 0} {
			t.Errorf("size %d: Closed(%v, %v), want Closed(nil, [%d 0])", size, c.err, c.n, size)
		}
		a.Close()
		b.Close()
	}
}

// TestFINRidesOnData: an answer with its sender's FIN behind it leaves
// the pair as one segment, the FIN on the data's (MSG_MORE, then the
// half-close): the far end receives exactly one segment, where a send
// and then a shutdown made two.
func TestFINRidesOnData(t *testing.T) {
	a, fa := loopbackConn(t)
	b, fb := loopbackConn(t)
	rc, err := b.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	segsIn := func() uint32 {
		var info *unix.TCPInfo
		var ierr error
		rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
		if ierr != nil {
			t.Fatal(ierr)
		}
		return info.Segs_in
	}
	before := segsIn()
	io.WriteString(a, "answer")
	a.CloseWrite()
	r := startAfterFIN(t, fa, fb)
	if got, err := io.ReadAll(b); err != nil || string(got) != "answer" {
		t.Fatalf("far end read %q, %v; want answer and EOF", got, err)
	}
	if n := segsIn() - before; n != 1 {
		t.Errorf("far end received %d segments for the answer and the FIN, want 1", n)
	}
	b.CloseWrite()
	if c := r.wait(t); c.err != nil || c.n != [2]uint64{6, 0} {
		t.Errorf("Closed(%v, %v), want Closed(nil, [6 0])", c.err, c.n)
	}
}

// TestSlowReader: against a reader that stops, sends come up short; the
// pair keeps the rest, stops reading its sender until the reader makes
// room, and then every byte arrives in order.
func TestSlowReader(t *testing.T) {
	a, fa := loopbackConn(t)
	b, fb := loopbackConn(t)
	// A small send buffer towards b: sends come up short after a few
	// hundred KiB (b's receive buffer plus this), not after megabytes.
	if err := unix.SetsockoptInt(fb, unix.SOL_SOCKET, unix.SO_SNDBUF, 32<<10); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	p, err := New(fa, fb, r)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 13 / 7)
	}
	werr := make(chan error, 1)
	go func() {
		_, err := a.Write(data)
		if err == nil {
			err = a.CloseWrite()
		}
		werr <- err
	}()
	testkit.WaitFor(t, "a short send kept", func() bool {
		kept := make(chan bool, 1)
		p.Inspect(func([2]int) error { kept <- p.pb[0] != nil; return nil })
		return <-kept
	})
	var got bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := b.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read %d bytes, want the %d written, in order", got.Len(), len(data))
	}
	b.Close()
	if c := r.wait(t); c.err != nil || c.n[0] != uint64(len(data)) {
		t.Errorf("Closed(%v, %v), want nil and %d bytes from side 0", c.err, c.n, len(data))
	}
}

// TestAbort: Abort during a transfer resets both peers and reports its
// error; Abort before Start and an Inspect error do the same.
func TestAbort(t *testing.T) {
	errTest := errors.New("test abort")
	// wantReset checks that Closed reported want (any error when nil)
	// and that each peer was reset.
	wantReset := func(t *testing.T, r *recorder, want error, peers ...*net.TCPConn) {
		t.Helper()
		if c := r.wait(t); c.err == nil || (want != nil && c.err != want) {
			t.Errorf("Closed(%v), want %v", c.err, want)
		}
		for _, c := range peers {
			if _, err := io.ReadAll(c); !errors.Is(err, unix.ECONNRESET) {
				t.Errorf("peer read = %v, want ECONNRESET", err)
			}
		}
	}
	t.Run("during relay", func(t *testing.T) {
		a, b, p, r := peers(t)
		io.WriteString(a, "ping")
		got := make([]byte, 4)
		if _, err := io.ReadFull(b, got); err != nil {
			t.Fatal(err)
		}
		p.Abort(errTest)
		wantReset(t, r, errTest, a, b)
	})
	t.Run("before start", func(t *testing.T) {
		a, fa := loopbackConn(t)
		b, fb := loopbackConn(t)
		r := newRecorder()
		p, err := New(fa, fb, r)
		if err != nil {
			t.Fatal(err)
		}
		p.Abort(errTest)
		p.Start()
		wantReset(t, r, errTest, a, b)
	})
	t.Run("inspect", func(t *testing.T) {
		a, b, p, r := peers(t)
		p.Inspect(func(fds [2]int) error {
			if fds != p.fd {
				return errors.New("wrong descriptors")
			}
			return errTest
		})
		wantReset(t, r, errTest, a, b)
	})
	t.Run("peer resets", func(t *testing.T) {
		a, b, _, r := peers(t)
		io.WriteString(a, "ping")
		io.ReadFull(b, make([]byte, 4))
		b.SetLinger(0)
		b.Close()
		wantReset(t, r, nil, a)
	})
}

// TestNoFDLeak: however pairs end, the loop closes both descriptors.
func TestNoFDLeak(t *testing.T) {
	if _, err := pick(); err != nil { // the loops' own descriptors stay
		t.Fatal(err)
	}
	before := testkit.OpenFDs(t)
	for i := range 20 {
		func() {
			a, b, p, r := peers(t)
			io.WriteString(a, "x")
			io.ReadFull(b, make([]byte, 1))
			switch i % 3 {
			case 0:
				a.Close()
				b.Close()
			case 1:
				p.Abort(errors.New("test"))
			case 2:
				a.SetLinger(0)
				a.Close()
			}
			r.wait(t)
			a.Close()
			b.Close()
		}()
	}
	testkit.WaitFor(t, "descriptors back to their count", func() bool { return testkit.OpenFDs(t) == before })
}
