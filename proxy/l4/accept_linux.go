package l4

import (
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
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
	_ = unix.SetsockoptInt(a.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return a.fd, a.from, nil
}

// accept is the raw call. A connection reset while queued (ECONNABORTED)
// is skipped, as the net package skips it.
func (a *acceptor) accept(lfd uintptr) {
	for {
		fd, sa, err := unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err == unix.ECONNABORTED || err == unix.EINTR {
			continue
		}
		a.fd, a.err, a.from = fd, err, netip.AddrPort{}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			a.from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			a.from = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
		}
		return
	}
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
