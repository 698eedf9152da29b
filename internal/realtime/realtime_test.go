package realtime

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLockThread: as root the calling thread becomes SCHED_RR at the
// priority asked, resetting on fork; without the privilege the error is
// ErrNotPermitted and the thread stays as it was. The test goroutine ends
// locked, so its thread ends with it.
func TestLockThread(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := LockThread(Priority)
		policy, prio, reset, perr := Policy()
		if perr != nil {
			t.Error(perr)
			return
		}
		switch {
		case err == nil:
			if policy != unix.SCHED_RR || prio != Priority || !reset {
				t.Errorf("after LockThread: policy %d priority %d reset-on-fork %v, want SCHED_RR (%d) %d true", policy, prio, reset, unix.SCHED_RR, Priority)
			}
		case errors.Is(err, ErrNotPermitted):
			if os.Geteuid() == 0 {
				t.Logf("root, but realtime refused (a cgroup without realtime budget?): %v", err)
			}
			if policy != unix.SCHED_NORMAL {
				t.Errorf("refused, yet policy %d", policy)
			}
		default:
			t.Errorf("LockThread(%d) = %v, want nil or ErrNotPermitted", Priority, err)
		}
	}()
	<-done
}

// TestWaiter: Wait returns on a readable descriptor, on a Wake made before
// it (counted, not lost), and on its timeout.
func TestWaiter(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	w, err := NewWaiter(p[0])
	if err != nil {
		t.Fatal(err)
	}
	w.Wake()
	if ready, err := w.Wait(10 * time.Second); err != nil || ready[0] {
		t.Errorf("after Wake: Wait = %v, %v; want the wake alone", ready, err)
	}
	unix.Write(p[1], []byte{1})
	if ready, err := w.Wait(10 * time.Second); err != nil || !ready[0] {
		t.Errorf("with the pipe readable: Wait = %v, %v; want it ready", ready, err)
	}
	var b [1]byte
	unix.Read(p[0], b[:])
	start := time.Now()
	if ready, err := w.Wait(20 * time.Millisecond); err != nil || ready[0] {
		t.Errorf("idle: Wait = %v, %v; want the timeout", ready, err)
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("idle Wait(20ms) returned after %v", took)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Wake() // after Close: does nothing
}
