package l4

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/evloop"
	"github.com/hapair/hapair/proxy/rawio"
)

// acceptor takes queued connections from a listener with accept4(2) as
// descriptors of our own, for an event loop: unlike (*TCPListener).Accept,
// no net.TCPConn, no epoll_ctl into Go's poller and out again, no
// getsockname and no dup. Only waiting goes through Go: when the queue is
// empty, Serve waits in Accept, whose connection takes the slow way
// (detach). The listener's descriptor is used inside Control, which holds
// it open: a Close by the listener's owner cannot hand its number to
// another socket under us.
type acceptor struct {
	rc   syscall.RawConn
	fd   int
	from netip.AddrPort
	err  error
	f    func(uintptr) // a.accept, made once
}

func newAcceptor(rc syscall.RawConn) *acceptor {
	a := &acceptor{rc: rc}
	a.f = a.accept
	return a
}

// next returns a queued connection's non-blocking socket, with
// TCP_NODELAY as the net package sets it, and the client's address;
// unix.EAGAIN when none is queued. Other errors are the net package's for
// the listener (net.ErrClosed) or *os.SyscallError.
func (a *acceptor) next() (int, netip.AddrPort, error) {
	if err := a.rc.Control(a.f); err != nil {
		return -1, netip.AddrPort{}, err
	}
	switch a.err {
	case nil:
	case unix.EAGAIN:
		return -1, netip.AddrPort{}, unix.EAGAIN
	default:
		return -1, netip.AddrPort{}, os.NewSyscallError("accept4", a.err)
	}
	_ = evloop.SetNoDelay(a.fd)
	return a.fd, a.from, nil
}

// accept is the raw call (RawSyscall, as evloop makes a connection's
// socket calls). A connection reset while queued (ECONNABORTED) is
// skipped, as the net package skips it.
func (a *acceptor) accept(lfd uintptr) {
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

// wait blocks in ln's Accept (Go's poller) for the next connection, and
// returns it as next does.
func (a *acceptor) wait(ln *net.TCPListener) (int, netip.AddrPort, error) {
	c, err := ln.AcceptTCP()
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	from := addrPortOf(c.RemoteAddr())
	fd, err := detach(c)
	return fd, from, err
}
