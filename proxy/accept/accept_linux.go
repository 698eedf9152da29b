package accept

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// Acceptor accepts a listener's connections as descriptors. It is for one
// goroutine at a time (Close excepted).
//
// The listener's descriptor is used inside its RawConn's Control, which
// holds it open: a Close by the listener's owner cannot hand its number to
// another socket under us. A listener's RawConn cannot wait (its Read
// fails with EINVAL), so when the queue is empty Accept waits on an epoll
// instance of its own that holds the listener (wait_linux.go).
type Acceptor struct {
	ln   *net.TCPListener
	rc   syscall.RawConn
	fd   int
	from netip.AddrPort
	err  error
	f    func(uintptr) // a.accept, made once so that a call allocates nothing

	mu        sync.Mutex
	w         *waiter // made by the first wait
	closed    bool    // Close was called
	closeTold bool    // CloseWithListener: no closeCheck
}

// New returns an Acceptor for ln, which stays the caller's (closing it
// ends Accept).
func New(ln *net.TCPListener) (*Acceptor, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	a := &Acceptor{ln: ln, rc: rc}
	a.f = a.accept
	return a, nil
}

// Accept returns the next connection's socket (non-blocking, close-on-exec,
// no socket option set) and the client's address, waiting while none is
// queued. Errors are net.ErrClosed (or one wrapping it) once the listener
// or a is closed (a listener closed while Accept waits is noticed within
// closeCheck, unless CloseWithListener; a's Close at once), or an
// *os.SyscallError (accept4's EMFILE and the like, after which accepting
// may be tried again). The listener's deadline does not apply.
func (a *Acceptor) Accept() (int, netip.AddrPort, error) {
	if a.isClosed() {
		return -1, netip.AddrPort{}, net.ErrClosed
	}
	for {
		fd, from, err := a.TryAccept()
		if err != unix.EAGAIN {
			return fd, from, err
		}
		if err := a.wait(); err != nil {
			return -1, netip.AddrPort{}, err
		}
	}
}

// TryAccept is Accept without the wait: unix.EAGAIN when no connection
// is queued.
func (a *Acceptor) TryAccept() (int, netip.AddrPort, error) {
	if err := a.rc.Control(a.f); err != nil {
		return -1, netip.AddrPort{}, err
	}
	switch a.err {
	case nil:
		return a.fd, a.from, nil
	case unix.EAGAIN:
		return -1, netip.AddrPort{}, unix.EAGAIN
	}
	return -1, netip.AddrPort{}, os.NewSyscallError("accept4", a.err)
}

// accept is the raw call (RawSyscall: accept4 on a non-blocking listener
// never waits in the kernel). A connection reset while queued
// (ECONNABORTED) is skipped, as the net package skips it.
func (a *Acceptor) accept(lfd uintptr) {
	for {
		var rsa unix.RawSockaddrAny
		l := uint32(unsafe.Sizeof(rsa))
		fd, err := rawio.Call(unix.SYS_ACCEPT4, lfd, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)),
			unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if err == unix.ECONNABORTED {
			continue
		}
		a.fd, a.err, a.from = int(fd), err, netip.AddrPort{}
		if err != nil {
			return
		}
		switch rsa.Addr.Family {
		case unix.AF_INET:
			sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
			a.from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port(sa.Port))
		case unix.AF_INET6:
			sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
			a.from = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port(sa.Port))
		}
		return
	}
}

// port converts a sockaddr's port (network byte order) to a number.
func port(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return binary.BigEndian.Uint16(b[:])
}
