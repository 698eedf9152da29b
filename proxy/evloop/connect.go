package evloop

import (
	"errors"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// Connector is the Handler of a Pair whose side 1 is still connecting
// (NewConnecting). Its methods run on the loop goroutine, like Handler's.
type Connector interface {
	Handler
	// Connected reports that side 1's connect(2) completed; relaying
	// starts now (the client's data waited in its socket until then).
	Connected()
	// Redial reports that side 1's connect failed with err (a socket
	// error, or ErrConnectTimeout after Expire); the loop has closed that
	// socket. It returns another connecting socket (Connect) to try, or
	// -1 to give up: the pair is then reset and Closed reports err.
	Redial(err error) int
}

// ErrConnectTimeout is the error Redial gets for an attempt that Expire
// ended.
var ErrConnectTimeout = errors.New("evloop: connect timed out")

// NewConnecting is New for a side 1 whose non-blocking connect(2) is
// under way (Connect): the loop waits for it (EPOLLOUT, then SO_ERROR)
// without a goroutine per connection, as HAProxy waits for its connects.
func NewConnecting(a, b int, h Connector) (*Pair, error) {
	p, err := New(a, b, h)
	if err != nil {
		return nil, err
	}
	p.conn, p.connecting, p.attempt = h, true, 1
	return p, nil
}

// StartConnecting is NewConnecting and Start at once on l, for a caller
// on l's goroutine (a listener's Ready that accepted a): both sockets are
// registered before it returns, with no post and no wake-up. If that
// fails, the pair is reset and h has heard Closed before it returns; h
// must be ready for that. The Pair comes from l's free list (pairPool)
// and goes back to it once closed, so it is known only by its Ref.
func (l *Loop) StartConnecting(a, b int, h Connector) Ref {
	p := l.pool.get(l)
	p.h, p.fd, p.conn, p.connecting, p.attempt = h, [2]int{a, b}, h, true, 1
	r := Ref{l: l, p: p, gen: p.gen} // before add: a failed add makes it stale
	l.add(p)
	return r
}

// Expire ends connect attempt number attempt (1 for the socket given to
// NewConnecting, then one more per socket Redial returned) if it is still
// under way: the connect timeout. Safe from any goroutine.
func (p *Pair) Expire(attempt int) {
	p.l.post(post{p: p, kind: postExpire, attempt: attempt})
}

// connectEvent handles an event on side 1 while it connects, and reports
// whether p now relays.
func (p *Pair) connectEvent(ev uint32) bool {
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		return false
	}
	// EPOLLOUT alone means connected: tcp_poll reports EPOLLOUT only
	// past SYN_SENT, and a failed connect sets sk_err (EPOLLERR) and
	// closes (EPOLLHUP). Only those two need SO_ERROR (one system call
	// less per connection).
	var err error
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		var e unix.Errno
		if e, err = soError(p.fd[1]); err == nil && e != 0 {
			err = e
		}
		if err == nil && ev&unix.EPOLLOUT == 0 {
			err = unix.ECONNRESET // hung up without an error: not connected
		}
	}
	if err != nil {
		p.redial(os.NewSyscallError("connect", err))
		return false
	}
	p.connecting = false
	p.conn.Connected()
	return true
}

// redial closes side 1's failed socket and registers the next one, or
// resets p when the Connector gives up.
func (p *Pair) redial(err error) {
	closeFD(p.fd[1]) // leaves the epoll set with it (or, when a fork holds it, its events are stale: tag)
	p.fd[1] = -1
	fd := p.conn.Redial(err)
	if fd < 0 {
		p.reset(err)
		return
	}
	p.fd[1] = fd
	p.attempt++
	p.pad[1] = p.l.tag(1)
	ev := unix.EpollEvent{Events: pairEvents, Fd: p.slot, Pad: p.pad[1]}
	if err := unix.EpollCtl(p.l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.reset(os.NewSyscallError("epoll_ctl", err))
	}
}

// Connect starts a connect(2) to addr from a new non-blocking TCP socket
// with TCP_NODELAY (as the net package sets it) and returns the socket,
// connecting, for NewConnecting or Redial. The local address and port
// are connect's choice.
func Connect(addr netip.AddrPort) (int, error) {
	var sa rawSockaddr
	domain := unix.AF_INET
	if a := addr.Addr().Unmap(); a.Is4() {
		sa.set4(a.As4(), addr.Port())
	} else {
		domain = unix.AF_INET6
		sa.set6(a.As16(), addr.Port(), rawio.ZoneIndex(a.Zone()))
	}
	fd, err := rawio.Call(unix.SYS_SOCKET, uintptr(domain), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0, 0, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	_ = SetNoDelay(int(fd))
	if err := sa.connect(int(fd)); err != nil && err != unix.EINPROGRESS {
		closeFD(int(fd))
		return -1, os.NewSyscallError("connect", err)
	}
	return int(fd), nil
}
