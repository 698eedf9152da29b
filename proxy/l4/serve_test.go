package l4

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// TestServeListenerCloseWhileAccepting: clients keep connecting while the
// listener is closed under the loops that accept from it. Serve returns
// nil; every client was either refused or served whole (none is left
// hanging in a backlog nobody reads); a connection established before the
// close is left alone and finishes after it; and nothing stays counted.
func TestServeListenerCloseWhileAccepting(t *testing.T) {
	a := proxytest.TCP(t, "a")
	ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	tp := NewTCP(upstreamtest.NewPicker(a.Addr), TCPConfig{}, nil)
	tp.SetActive(true)
	t.Cleanup(tp.Close)
	served := make(chan error, 1)
	go func() { served <- tp.Serve(ln) }()

	before := proxytest.Dial(t, addr)
	io.WriteString(before, "before")
	testkit.WaitFor(t, "the first connection open", func() bool { return tp.Stats().Open == 1 })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := proxytest.TCPRequest(addr, "x")
				if err == nil && out != "x|a" || err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
					mu.Lock()
					bad = append(bad, out+" "+errString(err))
					mu.Unlock()
				}
			}
		}()
	}
	testkit.WaitFor(t, "clients served while the listener is open", func() bool { return tp.Stats().Accepted > 20 })
	ln.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after the listener closed = %v, want nil", err)
		}
	case <-time.After(testkit.WaitTimeout):
		t.Fatalf("Serve still running %v after its listener closed", testkit.WaitTimeout)
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d clients neither refused nor served, e.g. %q", len(bad), bad[0])
	}
	before.CloseWrite()
	if got, err := io.ReadAll(before); err != nil || string(got) != "before|a" {
		t.Errorf("connection established before the close = %q, %v, want %q", got, err, "before|a")
	}
	testkit.WaitFor(t, "nothing open", func() bool { return tp.Stats().Open == 0 })
}

// newTextLogger logs at every level to w, as text.
func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestServeEMFILEBacksOff: out of descriptors, the loop's accept4 fails
// with EMFILE; the connection stays queued, the loop backs off (a timer,
// not a spin: the process uses next to no CPU meanwhile, and the failure
// is logged once), and once descriptors are free the timer takes the
// connection and it is served, with no new connection to wake the loop
// (edge-triggered epoll reports the queued one once). Runs in a child
// process, whose descriptor limit it lowers.
func TestServeEMFILEBacksOff(t *testing.T) {
	if !testkit.InChild(t, "L4_EMFILE_CHILD") {
		return
	}
	a := proxytest.TCP(t, "a")
	ln, err := ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logged testkit.Buffer
	tp := NewTCP(upstreamtest.NewPicker(a.Addr), TCPConfig{}, newTextLogger(&logged))
	tp.SetActive(true)
	t.Cleanup(tp.Close)
	proxytest.Serve(t, func() error { return tp.Serve(ln) }, func() { ln.Close() })
	// The loops run (one request through), so that what they need is
	// open before the descriptors run out.
	if out, err := proxytest.TCPRequest(ln.Addr().String(), "warm"); err != nil || out != "warm|a" {
		t.Fatalf("request before the limit = %q, %v", out, err)
	}

	fill := testkit.ExhaustDescriptors(t, 512)
	// One descriptor for the client's socket: none is left for the
	// proxy's accept4.
	fill.Free(1)
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The client is queued now; the loop heard it (or hears it as the
	// last descriptors went) and fails.
	io.WriteString(c, "late")
	c.CloseWrite()
	testkit.WaitFor(t, "the EMFILE logged", func() bool { return strings.Contains(logged.String(), "too many open files") })
	var r0, r1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r0)
	time.Sleep(300 * time.Millisecond) // a window to measure CPU in, not a wait for a condition
	unix.Getrusage(unix.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano()) * time.Nanosecond
	if cpu > 100*time.Millisecond {
		t.Errorf("process used %v of CPU in 300ms out of descriptors, want a backoff (< 100ms)", cpu)
	}
	if n := strings.Count(logged.String(), "accept failed"); n != 1 {
		t.Errorf("accept failure logged %d times, want once (then paced):\n%s", n, logged.String())
	}
	if st := tp.Stats(); st.Accepted != 1 {
		t.Errorf("accepted %d connections out of descriptors, want 1 (the warm-up)", st.Accepted)
	}
	fill.Free(1 << 16)
	c.SetDeadline(time.Now().Add(testkit.WaitTimeout))
	if got, err := io.ReadAll(c); err != nil || string(got) != "late|a" {
		t.Errorf("client queued during EMFILE, once descriptors are free = %q, %v, want %q", got, err, "late|a")
	}
}
