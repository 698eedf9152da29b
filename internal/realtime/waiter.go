package realtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Waiter blocks one thread in ppoll(2) until one of its file descriptors is
// readable, another goroutine calls Wake, or a timeout passes. It uses no
// Go timer and no netpoller: the kernel alone wakes the thread, by its
// priority. One goroutine calls Wait; Wake is safe from any goroutine.
type Waiter struct {
	mu    sync.RWMutex  // Close against Wake: a wake never writes to a closed (maybe reused) fd number
	efd   int           // eventfd, non-blocking: Wake never waits; -1 once closed
	poll  []unix.PollFd // [0] is the eventfd, then the caller's
	ready []bool        // per caller fd, filled by Wait
}

// NewWaiter returns a Waiter over fds (descriptors the caller owns and keeps
// open until it no longer calls Wait; POLLIN is watched).
func NewWaiter(fds ...int) (*Waiter, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("realtime: creating eventfd: %w", err)
	}
	w := &Waiter{efd: efd, ready: make([]bool, len(fds))}
	w.poll = append(w.poll, unix.PollFd{Fd: int32(efd), Events: unix.POLLIN})
	for _, fd := range fds {
		w.poll = append(w.poll, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	return w, nil
}

// Wake makes the current or next Wait return. Wakes before a Wait are not
// lost: they are counted in the eventfd until Wait reads it.
func (w *Waiter) Wake() {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.efd < 0 {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(w.efd, one[:]) // EAGAIN only when the counter is near 2^64: a wake is pending anyway
}

// Wait blocks until a descriptor is readable, Wake was called, or timeout
// passes (timeout < 0: no timeout). It returns, per fd given to NewWaiter,
// whether it is readable (or has an error condition to be read); the slice
// is reused by the next Wait. An interrupted ppoll (EINTR, the Go runtime's
// preemption signals) returns no readiness and no error: callers loop.
func (w *Waiter) Wait(timeout time.Duration) ([]bool, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	clear(w.ready)
	for i := range w.poll {
		w.poll[i].Revents = 0
	}
	_, err := unix.Ppoll(w.poll, ts, nil)
	if errors.Is(err, unix.EINTR) {
		return w.ready, nil
	}
	if err != nil {
		return w.ready, fmt.Errorf("realtime: ppoll: %w", err)
	}
	if w.poll[0].Revents != 0 {
		var b [8]byte
		unix.Read(w.efd, b[:]) // resets the counter; EAGAIN if another Wait already did
	}
	for i := range w.ready {
		w.ready[i] = w.poll[i+1].Revents != 0
	}
	return w.ready, nil
}

// Close releases the eventfd once no goroutine waits; later Wakes do
// nothing. Closing twice is an error.
func (w *Waiter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	efd := w.efd
	w.efd = -1
	if err := unix.Close(efd); err != nil {
		return fmt.Errorf("realtime: closing eventfd: %w", err)
	}
	return nil
}
