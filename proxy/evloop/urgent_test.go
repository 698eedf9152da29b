package evloop

import (
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// preemptStorm sends SIGURG, the signal Go's runtime preempts its own
// threads with (harmless when unasked for), to every other thread of
// this process until stop is set; done closes when it has stopped.
func preemptStorm(stop *atomic.Bool, done chan<- struct{}) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(done)
	pid, me := unix.Getpid(), unix.Gettid()
	for !stop.Load() {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return
		}
		for range 50 {
			for _, e := range ents {
				if tid, _ := strconv.Atoi(e.Name()); tid != me {
					unix.Tgkill(pid, tid, unix.SIGURG)
				}
			}
		}
	}
}

// queueAtMark sends "hello", an urgent byte and "world" (then the FIN if
// fin) through a new loopback connection, waits until its far end fa has
// all of it (the sender's SIOCOUTQ, what is not yet acknowledged, is 0;
// fa's own SIOCINQ stops at the mark), and returns fa with a second
// connection (b, and fb, its far end) for the pair to relay to.
func queueAtMark(t *testing.T, fin bool) (fa int, b *net.TCPConn, fb int) {
	t.Helper()
	a, fa := loopbackConn(t)
	b, fb = loopbackConn(t)
	rc, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var sendErr error
	rc.Write(func(fd uintptr) bool {
		for _, m := range []struct {
			p     string
			flags int
		}{{"hello", 0}, {"X", unix.MSG_OOB}, {"world", 0}} {
			if err := unix.Send(int(fd), []byte(m.p), m.flags); err != nil {
				sendErr = err
			}
		}
		return true
	})
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	if fin {
		a.CloseWrite()
	}
	testkit.WaitFor(t, "all acknowledged", func() bool {
		n, qerr := -1, error(nil)
		rc.Control(func(fd uintptr) { n, qerr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		return qerr == nil && n == 0
	})
	return fa, b, fb
}

// relayTo starts a Pair relaying fa to fb, whose far end b then reads
// within 10 s; the pair is aborted when the test ends, if it has not
// closed by then.
func relayTo(t *testing.T, fa, fb int, b *net.TCPConn) *Pair {
	t.Helper()
	p, err := New(fa, fb, newRecorder())
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(func() { p.Abort(io.EOF) })
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	return p
}

// TestUrgentMarkSignal: at the urgent mark, tcp_recvmsg returns EAGAIN
// without copying when the reading thread has a signal pending, and Go
// signals its threads (SIGURG) to preempt them. Taken as "drained", that
// EAGAIN left "world" in the kernel (no new event comes for it) and,
// with a FIN queued, the pair open until its idle timeout. Under a storm
// of SIGURG, 150 relays each way must all deliver "helloworld" (and the
// EOF after a FIN); before signalAtMark, the FIN case failed within a
// few rounds.
func TestUrgentMarkSignal(t *testing.T) {
	for _, fin := range []bool{false, true} {
		t.Run(map[bool]string{false: "open", true: "FIN"}[fin], func(t *testing.T) {
			var stop atomic.Bool
			done := make(chan struct{})
			go preemptStorm(&stop, done)
			t.Cleanup(func() { stop.Store(true); <-done })
			for round := range 150 {
				fa, b, fb := queueAtMark(t, fin)
				p := relayTo(t, fa, fb, b)
				got := make([]byte, 10)
				n, err := io.ReadFull(b, got)
				if err == nil && fin {
					var rest []byte
					rest, err = io.ReadAll(b) // the EOF, and nothing more
					got = append(got, rest...)
					n += len(rest)
				}
				if err != nil || string(got[:n]) != "helloworld" {
					t.Fatalf("round %d: far end read %q, %v; want helloworld", round, got[:n], err)
				}
				p.Abort(io.EOF)
				b.Close()
			}
		})
	}
}

// TestUrgentThenFIN: "hello", an urgent byte (MSG_OOB), "world" and the
// FIN, all queued before the pair's first event. Linux's tcp_recvmsg
// stops a read at the urgent mark, so a short read is not proof that
// nothing is left even with the FIN seen (EPOLLRDHUP): taking it as the
// EOF, as HAProxy's raw_sock does, lost "world" silently. The urgent byte
// itself is not relayed (out of band; recv(2) without MSG_OOB skips it).
func TestUrgentThenFIN(t *testing.T) {
	fa, b, fb := queueAtMark(t, true)
	r := startAfterFIN(t, fa, fb)
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "helloworld" {
		t.Errorf("far end read %q, %v; want helloworld and EOF", got, err)
	}
	b.CloseWrite()
	if c := r.wait(t); c.err != nil || c.n != [2]uint64{10, 0} {
		t.Errorf("Closed(%v, %v), want Closed(nil, [10 0])", c.err, c.n)
	}
}

// TestUrgentNoFIN: "hello", an urgent byte (MSG_OOB) and "world", with
// the connection left open. The read stops at the urgent mark, and
// edge-triggered epoll has no new event for "world": taking that short
// read as the end of what was queued left "world" waiting for the
// sender's next bytes.
func TestUrgentNoFIN(t *testing.T) {
	fa, b, fb := queueAtMark(t, false)
	relayTo(t, fa, fb, b)
	got := make([]byte, 10)
	if n, err := io.ReadFull(b, got); err != nil || string(got) != "helloworld" {
		t.Fatalf("far end read %q, %v; want helloworld with the sender still open", got[:n], err)
	}
}
