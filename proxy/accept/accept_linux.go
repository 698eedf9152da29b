package accept

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// Acceptor accepts a listener's connections as descriptors. It is for one
// goroutine at a time.
//
// The listener's descriptor is used inside its RawConn's Control, which
// holds it open: a Close by the listener's owner cannot hand its number to
// another socket under us. A listener's RawConn cannot wait (its Read
// fails with EINVAL), so when the queue is empty Accept waits in the
// listener's own Accept and takes that connection the slow way (Detach).
type Acceptor struct {
	ln   *net.TCPListener
	rc   syscall.RawConn
	fd   int
	from netip.AddrPort
	err  error
	f    func(uintptr) // a.accept, made once so that a call allocates nothing
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

// Accept returns the next connection's socket (non-blocking, close-on-exec)
// and the client's address, waiting while none is queued. A queued
// connection has no socket option set; one that was waited for has those
// the net package sets (TCP_NODELAY, keepalive). Errors are the net
// package's for the listener (one that wraps net.ErrClosed once it is
// closed; a net.Error whose Timeout is true after its deadline) or an
// *os.SyscallError (accept4's EMFILE and the like, after which accepting
// may be tried again).
func (a *Acceptor) Accept() (int, netip.AddrPort, error) {
	fd, from, err := a.TryAccept()
	if err != unix.EAGAIN {
		return fd, from, err
	}
	c, err := a.ln.AcceptTCP()
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	from = netip.AddrPort{}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	fd, err = Detach(c)
	return fd, from, err
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

// Detach takes c's socket out of the net package: it returns a duplicate
// descriptor (same open socket, still non-blocking) and closes c, which
// also takes the socket out of Go's poller. The caller owns the result.
// (File would do the same and more: it registers the copy with the poller
// again.)
func Detach(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		_ = c.Close()
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		derr = err
	}
	if derr != nil {
		_ = c.SetLinger(0)
		_ = c.Close()
		return -1, os.NewSyscallError("fcntl", derr)
	}
	_ = c.Close()
	return fd, nil
}

// port converts a sockaddr's port (network byte order) to a number.
func port(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return binary.BigEndian.Uint16(b[:])
}
