package evloop

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// startProbe runs a ConnectProbe to addr on a loop and returns the
// channel its Done reports to, and the probe (for Cancel, on its loop).
func startProbe(t *testing.T, addr netip.AddrPort, timeout time.Duration) (*Loop, *ConnectProbe, chan error) {
	t.Helper()
	l := pickLoop(t)
	done := make(chan error, 2) // 2: a second Done would be seen, not block the loop
	pr := &ConnectProbe{Addr: addr, Timeout: timeout, Done: func(err error) { done <- err }}
	l.Post(func() { l.StartProbe(pr) })
	return l, pr, done
}

// result waits for one Done (bounded) and checks that no second one comes
// with it.
func result(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		select {
		case err2 := <-done:
			t.Fatalf("Done called twice: %v, then %v", err, err2)
		default:
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("probe did not end within 10s")
		return nil
	}
}

// TestProbeConnects: a probe of a listening port ends with nil, and the
// listener's side of the connection then reads a reset (the probe closes
// with SO_LINGER 0, leaving no TIME_WAIT behind).
func TestProbeConnects(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, _, done := startProbe(t, ln.Addr().(*net.TCPAddr).AddrPort(), 5*time.Second)
	if err := result(t, done); err != nil {
		t.Fatalf("probe of a listener: %v, want nil", err)
	}
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read on the probed side: %v, want ECONNRESET (closed with an RST)", err)
	}
}

// TestProbeFails: a refused connect, a connect that never completes
// (Timeout) and a cancelled one each end once, with their errors.
func TestProbeFails(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		_, _, done := startProbe(t, testkit.ClosedPort(t, "tcp"), 5*time.Second)
		err := result(t, done)
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Syscall != "connect" || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("probe of a closed port: %v, want connect: ECONNREFUSED", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		_, _, done := startProbe(t, testkit.Blackhole(t), 200*time.Millisecond)
		if err := result(t, done); !errors.Is(err, ErrConnectTimeout) {
			t.Errorf("probe of a blackhole: %v, want ErrConnectTimeout", err)
		}
		if took := time.Since(start); took < 200*time.Millisecond {
			t.Errorf("timed out after %v, before its 200ms", took)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		l, pr, done := startProbe(t, testkit.Blackhole(t), time.Minute)
		l.Post(pr.Cancel)
		if err := result(t, done); !errors.Is(err, ErrProbeCanceled) {
			t.Errorf("cancelled probe: %v, want ErrProbeCanceled", err)
		}
		l.Post(pr.Cancel) // ended: a second Cancel reports nothing
		l.Post(func() { done <- nil })
		if err := <-done; err != nil {
			t.Errorf("Done after a second Cancel: %v", err)
		}
	})
}

// TestProbeNoFDLeak: however probes end, their sockets are closed, and
// the loop holds no registration or timer for them (its goroutine ends).
func TestProbeNoFDLeak(t *testing.T) {
	if _, err := pick(); err != nil { // the loops' own descriptors stay
		t.Fatal(err)
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	up, down, hole := ln.Addr().(*net.TCPAddr).AddrPort(), testkit.ClosedPort(t, "tcp"), testkit.Blackhole(t)
	before := testkit.OpenFDs(t)
	for i := range 30 {
		switch i % 3 {
		case 0:
			_, _, done := startProbe(t, up, 5*time.Second)
			result(t, done)
		case 1:
			_, _, done := startProbe(t, down, 5*time.Second)
			result(t, done)
		case 2:
			_, _, done := startProbe(t, hole, 50*time.Millisecond)
			result(t, done)
		}
	}
	testkit.WaitFor(t, "descriptors back to their count", func() bool { return testkit.OpenFDs(t) == before })
	for _, l := range loops {
		testkit.WaitFor(t, "loop goroutine to end (no registration or timer left)", func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return !l.running
		})
	}
}

// TestProbeLeavesEpollWhenShared: a probe that ends while another
// descriptor still refers to its socket (a child forked before its exec)
// takes the socket out of the loop's epoll set itself: the close alone
// would leave it there, and its late events would reach the next Socket
// given the slot.
func TestProbeLeavesEpollWhenShared(t *testing.T) {
	l, pr, done := startProbe(t, testkit.Blackhole(t), time.Minute)
	held := make(chan int, 1)
	l.Post(func() {
		// On the loop, after StartProbe: the socket is registered.
		fd, err := syscall.Dup(pr.fd)
		if err != nil {
			t.Error(err)
		}
		held <- fd
		pr.Cancel()
	})
	dup := <-held
	defer syscall.Close(dup)
	if err := result(t, done); !errors.Is(err, ErrProbeCanceled) {
		t.Fatalf("cancelled probe: %v, want ErrProbeCanceled", err)
	}
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", l.epfd))
	if err != nil {
		t.Fatalf("reading the epoll set from fdinfo: %v", err)
	}
	// An entry reads "tfd: N events: ..." with its socket's inode as "ino:".
	var st syscall.Stat_t
	if err := syscall.Fstat(dup, &st); err != nil {
		t.Fatal(err)
	}
	if ino := fmt.Sprintf(" ino:%x", st.Ino); strings.Contains(string(info), ino) {
		t.Errorf("the probe's socket (inode %x) is still in the loop's epoll set:\n%s", st.Ino, info)
	}
}
