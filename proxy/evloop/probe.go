package evloop

import (
	"errors"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// ConnectProbe is one TCP connect check made on a loop (HAProxy's
// "option tcp-check" connect, ldirectord's checktype=connect): a
// non-blocking connect(2), a wait for it among the loop's events, and a
// close with an RST (SO_LINGER 0, as HAProxy closes its checks, so a
// thousand checks a second leave no TIME_WAIT sockets behind).
//
// Made on a loop, a check costs no goroutine, no runtime timer and no
// registration with Go's poller (whose epoll_ctl pair, file and finalizer
// it would otherwise pay), and its system calls are raw: a connect over
// loopback runs the peer's handshake in the caller's context, long enough
// for the runtime to hand a syscall.Syscall's P to another thread.
//
// The caller fills Addr, Timeout and Done and calls Loop.StartProbe; the
// other fields are the loop's.
type ConnectProbe struct {
	Addr    netip.AddrPort
	Timeout time.Duration
	// Done hears how the check ended, exactly once, on the loop goroutine
	// (it must not block): nil when connected, the failed system call as
	// an *os.SyscallError (connect: ECONNREFUSED...; socket: EMFILE...),
	// ErrConnectTimeout after Timeout, or ErrProbeCanceled after Cancel.
	Done func(err error)

	l          *Loop
	fd         int
	reg        Reg
	registered bool
	timer      *Timer
	ended      bool
}

// ErrProbeCanceled is the error Done gets for a probe that Cancel ended.
var ErrProbeCanceled = errors.New("evloop: probe canceled")

// StartProbe starts pr's connect on l. Done may be called before it
// returns (an error of socket(2), or a connect that completed at once).
// Loop goroutine only (from a Post): a caller elsewhere posts it. A
// ConnectProbe is started once: its state (ended, its registration and
// timer) is not reset, so each check takes a new one.
func (l *Loop) StartProbe(pr *ConnectProbe) {
	pr.l, pr.fd = l, -1
	fd, connected, err := probeConnect(pr.Addr)
	if err != nil {
		pr.finish(err)
		return
	}
	pr.fd = fd
	if connected {
		pr.finish(nil)
		return
	}
	// Edge-triggered EPOLLOUT: reported once the handshake completes (or
	// at once if it already has, since epoll_ctl polls the socket);
	// EPOLLERR and EPOLLHUP, a failed connect, come unasked.
	reg, err := l.Register(fd, pr, unix.EPOLLOUT|unix.EPOLLET)
	if err != nil {
		pr.finish(err)
		return
	}
	pr.reg, pr.registered = reg, true
	pr.timer = l.After(pr.Timeout, pr.expire)
}

// Ready is pr's Socket method: the connect completed or failed.
func (pr *ConnectProbe) Ready(ev uint32) {
	if pr.ended {
		return
	}
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		if ev&unix.EPOLLOUT != 0 {
			pr.finish(nil) // tcp_poll reports EPOLLOUT only past SYN_SENT
		}
		return
	}
	e, err := soError(pr.fd)
	switch {
	case err != nil:
		err = os.NewSyscallError("getsockopt SO_ERROR", err)
	case e != 0:
		err = os.NewSyscallError("connect", e)
	case ev&unix.EPOLLOUT == 0:
		err = os.NewSyscallError("connect", unix.ECONNRESET) // hung up, no error: not connected
	}
	pr.finish(err)
}

func (pr *ConnectProbe) expire() { pr.finish(ErrConnectTimeout) }

// Cancel ends pr with ErrProbeCanceled unless it ended already. Loop
// goroutine only (post it), after StartProbe.
func (pr *ConnectProbe) Cancel() { pr.finish(ErrProbeCanceled) }

// finish closes pr's socket, if any, and reports err to Done, once.
func (pr *ConnectProbe) finish(err error) {
	if pr.ended {
		return
	}
	pr.ended = true
	if pr.timer != nil {
		pr.timer.Stop()
	}
	if pr.fd >= 0 {
		// EPOLL_CTL_DEL before the close rather than Forget after it: a
		// child forked meanwhile (an external check's fork and exec) holds
		// the socket until its exec, so the close would leave it in the
		// epoll set until then (its late events, such as an EPOLLOUT, are
		// dropped by the slot's tag either way).
		if pr.registered {
			pr.l.Unregister(pr.reg) // its error: the close takes the socket out in the end
		}
		closeFD(pr.fd)
		pr.fd = -1
	}
	pr.Done(err)
}

// probeConnect makes a non-blocking TCP socket that closes with an RST
// and starts its connect(2) to addr. connected is true when the connect
// completed at once; err is socket's, setsockopt's or connect's, as an
// *os.SyscallError, with the socket closed.
func probeConnect(addr netip.AddrPort) (fd int, connected bool, err error) {
	var sa rawSockaddr
	domain := unix.AF_INET
	if a := addr.Addr().Unmap(); a.Is4() {
		sa.set4(a.As4(), addr.Port())
	} else {
		domain = unix.AF_INET6
		sa.set6(a.As16(), addr.Port(), rawio.ZoneIndex(a.Zone()))
	}
	s, err := rawio.Call(unix.SYS_SOCKET, uintptr(domain), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0, 0, 0)
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
	fd = int(s)
	l := unix.Linger{Onoff: 1, Linger: 0}
	if _, err := rawio.Call(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_LINGER,
		uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0); err != nil {
		closeFD(fd)
		return -1, false, os.NewSyscallError("setsockopt SO_LINGER", err)
	}
	p, n := unsafe.Pointer(&sa.v4), unsafe.Sizeof(sa.v4)
	if sa.six {
		p, n = unsafe.Pointer(&sa.v6), unsafe.Sizeof(sa.v6)
	}
	switch _, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(p), n); e {
	case 0:
		return fd, true, nil
	case unix.EINPROGRESS, unix.EINTR: // after EINTR the connect goes on, as after EINPROGRESS
		return fd, false, nil
	default:
		closeFD(fd)
		return -1, false, os.NewSyscallError("connect", e)
	}
}
