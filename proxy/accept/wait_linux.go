package accept

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// closeCheck bounds how long Accept waits before it looks again whether
// the listener was closed: closing a listener takes it out of the waiter's
// epoll set without an event (Close wakes Accept at once). A caller that
// closes the Acceptor with its listener (CloseWithListener) waits
// without it: 10 wake-ups a second of an idle service were half of an
// idle daemon's CPU (DESIGN.md: under 1% of a core).
var closeCheck = 100 * time.Millisecond

// CloseWithListener tells a that its caller calls Close whenever the
// listener is closed (a service's end closes both), so a waiting Accept
// need not look for the listener's close every closeCheck. Call it
// before the first Accept.
func (a *Acceptor) CloseWithListener() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeTold = true
}

// waiter is an epoll instance of the Acceptor's own holding the listener
// (edge-triggered), itself in Go's poller, as package evloop's loops are:
// Accept parks there until a connection is queued and then takes it with
// accept4 like any other. The listener's own Accept, which Accept used
// before, makes every system call (accept4, setsockopt for TCP_NODELAY
// and keepalive, getsockname, epoll_ctl in and out, and a dup to detach
// the socket) through the runtime's syscall entry: each woke the sysmon
// thread from its sleep and let it hand the P to another thread, a
// context switch on the proxy's CPU for every few connections.
type waiter struct {
	file *os.File // the epoll descriptor, in Go's poller
	rc   syscall.RawConn
	ev   [1]unix.EpollEvent
	poll func(uintptr) bool // w.drain, made once so that a wait allocates nothing
}

// wait parks until the listener may have a connection queued, or
// closeCheck passed. It returns net.ErrClosed once Close was called.
func (a *Acceptor) wait() error {
	w, told, err := a.waiter()
	if err != nil {
		return err
	}
	if !told {
		_ = w.file.SetReadDeadline(time.Now().Add(closeCheck))
	}
	err = w.rc.Read(w.poll)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if a.isClosed() {
		return net.ErrClosed // the file's "use of closed file"
	}
	return err
}

func (a *Acceptor) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// drain reads the waiter's pending event (which re-arms the edge) and
// reports whether there was one; false makes the poller wait.
func (w *waiter) drain(epfd uintptr) bool {
	n, err := rawio.Call(unix.SYS_EPOLL_PWAIT, epfd, uintptr(unsafe.Pointer(&w.ev[0])), 1, 0, 0, 0)
	return err != nil || n > 0
}

// waiter returns a's waiter, made on the first wait (an Acceptor that
// only tries, as proxy/l4's, needs none), and whether CloseWithListener
// was called.
func (a *Acceptor) waiter() (*waiter, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, false, net.ErrClosed
	}
	if a.w != nil {
		return a.w, a.closeTold, nil
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, false, os.NewSyscallError("epoll_create1", err)
	}
	var cerr error
	if err := a.rc.Control(func(lfd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}
		cerr = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, int(lfd), &ev)
	}); err != nil {
		unix.Close(epfd)
		return nil, false, err // the listener's net.ErrClosed
	}
	if cerr != nil {
		unix.Close(epfd)
		return nil, false, os.NewSyscallError("epoll_ctl", cerr)
	}
	// os.NewFile puts only a non-blocking descriptor in Go's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, false, os.NewSyscallError("fcntl", err)
	}
	w := &waiter{file: os.NewFile(uintptr(epfd), "accept")}
	if w.rc, err = w.file.SyscallConn(); err != nil {
		w.file.Close()
		return nil, false, err
	}
	w.poll = w.drain
	a.w = w
	return w, a.closeTold, nil
}

// Close ends a's waiting: an Accept waiting now, and every one after,
// returns net.ErrClosed. It does not close the listener. Safe from any
// goroutine, and more than once.
func (a *Acceptor) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	if a.w != nil {
		return a.w.file.Close()
	}
	return nil
}
