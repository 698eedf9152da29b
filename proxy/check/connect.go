package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
)

// ConnectChecker is a check that passes when a TCP connection to the target
// completes within Timeout (ldirectord checktype=connect).
//
// It closes with a reset (SO_LINGER 0), as HAProxy does for its checks, so a
// thousand checks a second leave no TIME_WAIT sockets behind on the balancer.
type ConnectChecker struct {
	Timeout time.Duration
}

// Check dials target and closes the connection at once.
func (c *ConnectChecker) Check(ctx context.Context, target netip.AddrPort) error {
	conn, err := dialTCP(ctx, target, c.Timeout)
	if err != nil {
		return reason("connect "+target.String(), err, c.Timeout)
	}
	abort(conn)
	return nil
}

var dialer net.Dialer

func dialTCP(ctx context.Context, target netip.AddrPort, timeout time.Duration) (*net.TCPConn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := dialer.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// abort closes c with a reset instead of a FIN.
func abort(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
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
