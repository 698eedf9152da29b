package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// ConnectChecker is a check that passes when a TCP connection to the target
// completes within Timeout (ldirectord checktype=connect).
//
// It closes with a reset (SO_LINGER 0), as HAProxy does for its checks, so a
// thousand checks a second leave no TIME_WAIT sockets behind on the balancer.
// A Prober makes its checks on the balancer's event loops (loopCheck), with
// the same results and reasons as Check, which serves other callers and
// is the Prober's fallback when no loop can be had.
type ConnectChecker struct {
	Timeout time.Duration
}

// Check connects to target and resets the connection at once. It waits
// for the connect in Go's poller on a raw non-blocking socket rather than
// through net.Dialer: a check needs no TCP_NODELAY, keepalive settings or
// address lookups of the net package, which were 6 of its 14 system calls
// (DESIGN.md: 1,000 reals checked every second under 10% of a core).
// Errors: "connect T: <errno text>", "connect T: timeout after D",
// "connect T: canceled" (reason).
func (c *ConnectChecker) Check(ctx context.Context, target netip.AddrPort) error {
	if err := connectReset(ctx, target, c.Timeout); err != nil {
		return reason("connect "+target.String(), err, c.Timeout)
	}
	return nil
}

// dialer keeps no keepalive on its connections (KeepAlive -1): a check's
// connection lives for one exchange, and each setting is a system call.
var dialer = net.Dialer{KeepAlive: -1}

// connectReset connects a new non-blocking socket to target within
// timeout (and ctx), then closes it with a reset (SO_LINGER 0, set before
// the connect). It returns nil once connected; the connect's error as an
// *os.SyscallError (ECONNREFUSED...), os.ErrDeadlineExceeded after
// timeout or ctx's deadline, or ctx.Err() if ctx is canceled.
func connectReset(ctx context.Context, target netip.AddrPort, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !time.Now().Before(deadline) {
		return os.ErrDeadlineExceeded
	}
	sa, domain := sockaddr(target)
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	// A reset, as HAProxy closes its checks: a thousand checks a second
	// leave no TIME_WAIT sockets behind on the balancer.
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("setsockopt SO_LINGER", err)
	}
	// Go's poller waits for the connect (EPOLLOUT) with the deadline; the
	// file owns fd from here on. The connect is issued inside Write, after
	// the poller forgot the readiness of the unconnected socket: issued
	// before, its completion could come before Write's reset of that
	// readiness, and be lost to it.
	f := os.NewFile(uintptr(fd), "check") // a constant name: no allocation
	defer f.Close()
	if err := f.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if ctx.Done() != nil {
		// A cancel ends the wait at once: a deadline in the past.
		defer context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })()
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var connErr error
	err = rc.Write(func(fd uintptr) bool {
		// connect(2) again after a wake-up says how the first one went
		// (BSD's way, no SO_ERROR): EISCONN connected, EALREADY still
		// under way (a spurious wake-up of the poller), else its error.
		switch err := unix.Connect(int(fd), sa); err {
		case nil, unix.EISCONN:
			return true
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		default:
			connErr = os.NewSyscallError("connect", err)
			return true
		}
	})
	if err != nil {
		if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
			return cerr
		}
		return err
	}
	return connErr
}

// sockaddr is target as connect(2)'s address, with its socket domain.
func sockaddr(target netip.AddrPort) (unix.Sockaddr, int) {
	a := target.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: int(target.Port())}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Addr: a.As16(), Port: int(target.Port()), ZoneId: rawio.ZoneIndex(a.Zone())}, unix.AF_INET6
}

// reason turns err into a short operator-facing reason prefixed with what:
// "connect 198.18.1.11:80: connection refused", "...: timeout after 1s".
func reason(what string, err error, timeout time.Duration) error {
	if isTimeout(err) {
		return fmt.Errorf("%s: timeout after %v", what, timeout)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: canceled", what)
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %w", what, se.Err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return fmt.Errorf("%s: %w", what, oe.Err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
