package testkit

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// WaitTimeout bounds every WaitFor. It is generous because the race detector
// and a loaded machine slow goroutines down; a passing test waits far less.
const WaitTimeout = 10 * time.Second

// WaitFor polls cond until it reports true and fails t, naming what it
// awaited, if that takes longer than WaitTimeout. cond runs on the calling
// goroutine.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(cond) {
		t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
	}
}

// Poll polls cond every millisecond until it reports true or WaitTimeout
// passes, and reports whether it did: for goroutines that cannot call
// t.Fatal, and for callers that print their own failure.
func Poll(cond func() bool) bool {
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond) // the polling period, not a stand-in for the condition
	}
	return true
}

// AwaitGoroutines waits until at most n goroutines run (n from
// runtime.NumGoroutine before the code under test started) and fails t with
// every goroutine's stack if they do not end within WaitTimeout: the leak
// check of shells that start goroutines.
func AwaitGoroutines(t testing.TB, n int) {
	t.Helper()
	if Poll(func() bool { return runtime.NumGoroutine() <= n }) {
		return
	}
	buf := make([]byte, 1<<20)
	t.Errorf("goroutines leaked: %d running, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

// Advancer is a fake clock (clocktest.Clock).
type Advancer interface{ Advance(d time.Duration) }

// AdvanceUntil advances clk by step at every poll until cond holds, and
// fails t, naming what it awaited, after WaitTimeout of real time: for code
// that waits on the fake clock in another goroutine.
func AdvanceUntil(t testing.TB, clk Advancer, step time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitFor(t, what, func() bool {
		if cond() {
			return true
		}
		clk.Advance(step)
		return false
	})
}

// Receive returns the next value from ch, advancing clk by step at every
// poll while none is there (see AdvanceUntil).
func Receive[T any](t testing.TB, clk Advancer, step time.Duration, what string, ch <-chan T) T {
	t.Helper()
	var v T
	AdvanceUntil(t, clk, step, what, func() bool {
		select {
		case v = <-ch:
			return true
		default:
			return false
		}
	})
	return v
}

// Returns runs f on its own goroutine and returns its error, failing t if
// f has not returned within WaitTimeout: for calls that must not block
// (opening a FIFO).
func Returns(t testing.TB, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(WaitTimeout):
		t.Fatalf("%s still blocked after %v", what, WaitTimeout)
		return nil
	}
}

// AwaitError receives the error a call running on another goroutine sends
// to ch, and fails t, naming what, unless it comes within WaitTimeout and
// is want (errors.Is): for a blocked call that a Close or a deadline must
// end with a given error.
func AwaitError(t testing.TB, what string, ch <-chan error, want error) {
	t.Helper()
	select {
	case err := <-ch:
		if !errors.Is(err, want) {
			t.Errorf("%s = %v, want %v", what, err, want)
		}
	case <-time.After(WaitTimeout):
		t.Fatalf("%s still blocked after %v", what, WaitTimeout)
	}
}

// WaitFD waits with poll(2) until fd reports one of events (unix.POLLIN,
// unix.POLLRDHUP, ...) and fails t, naming what it awaited, if none comes
// within WaitTimeout, poll fails, or fd is not an open descriptor
// (POLLNVAL, which poll reports whatever was asked). A poll cut short by
// a signal (EINTR: poll(2) is never restarted, signal(7)) is retried for
// the time left.
func WaitFD(t testing.TB, fd int, events int16, what string) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out after %v waiting for %s (poll of descriptor %d)", WaitTimeout, what, fd)
		}
		n, err := unix.Poll(pfd, int(left.Milliseconds())+1)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			t.Fatalf("waiting for %s: poll of descriptor %d: %v", what, fd, err)
		case n > 0 && pfd[0].Revents&unix.POLLNVAL != 0:
			t.Fatalf("waiting for %s: descriptor %d is not open (POLLNVAL)", what, fd)
		case n > 0:
			return
		}
	}
}
