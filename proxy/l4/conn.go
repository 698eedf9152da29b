package l4

import (
	"errors"
	"net/netip"

	"github.com/hapair/hapair/proxy/evloop"
	"github.com/hapair/hapair/proxy/upstream"
)

// tcpConn is one forwarded connection, set up and relayed by an event
// loop (package evloop; side 0 the client, side 1 the real). It is the
// loop's Connector: every field but t, cfg and from is the loop
// goroutine's once Start has run.
type tcpConn struct {
	t    *TCPProxy
	cfg  *TCPConfig
	from netip.AddrPort
	l    *evloop.Loop // the loop that accepted the client and relays
	pair evloop.Ref

	up         upstream.Upstream // the real connected to, or being connected to
	tried      []netip.AddrPort  // reals whose connect failed
	attempt    int               // the connect under way, from 1 (evloop's count)
	connTimer  *evloop.Timer     // on l
	idle       *evloop.Timer     // on l
	connected  bool
	halfClosed bool
	counted    [2]bool
}

// start starts connecting an accepted client (its socket cfd, from its
// address from) to a real and hands both sockets to the loop l that
// accepted it, which waits for the connect and relays: no goroutine per
// connection. Loop goroutine only. The connection's gate slot is given
// back when it ends.
func (t *TCPProxy) start(l *evloop.Loop, cfd int, from netip.AddrPort) {
	c := &tcpConn{t: t, cfg: t.cfg.Load(), from: from, l: l}
	rfd := c.dial()
	if rfd < 0 {
		t.noReal.Add(1)
		evloop.CloseReset(cfd)
		t.gate.Release()
		return
	}
	if !t.conns.Add(c) {
		// The proxy is closed (Close): reset, as Close resets the rest.
		evloop.CloseReset(cfd)
		evloop.CloseReset(rfd)
		t.gate.Release()
		return
	}
	c.armConnect()
	c.pair = l.StartConnecting(cfd, rfd, c)
}

// dial starts a connect to the next real the picker gives, skipping reals
// that fail at once, until Attempts reals have failed; -1 when none is
// left (HAProxy's "retries" with "option redispatch").
func (c *tcpConn) dial() int {
	for len(c.tried) < c.cfg.Attempts {
		up, ok := c.t.picker.Pick(c.from.Addr(), c.tried)
		if !ok {
			return -1
		}
		fd, err := evloop.Connect(up.Addr())
		if err == nil {
			c.up = up
			c.attempt++
			return fd
		}
		c.failed(up.Addr(), err)
	}
	return -1
}

// failed counts and logs a connect to addr that failed.
func (c *tcpConn) failed(addr netip.AddrPort, err error) {
	c.t.connFailed.Add(1)
	if errors.Is(err, evloop.ErrConnectTimeout) {
		c.t.connTimeouts.Add(1)
	}
	c.t.log.Warn("connecting to real failed", "real", addr.String(), "client", c.from.String(), "err", err)
	c.tried = append(c.tried, addr)
}

// armConnect bounds the connect under way by ConnectTimeout, with a timer
// of the loop (no runtime timer per connection).
func (c *tcpConn) armConnect() {
	attempt := c.attempt
	c.connTimer = c.l.After(c.cfg.ConnectTimeout, func() { c.pair.Expire(attempt) })
}

// Redial counts the failed connect and starts the next.
func (c *tcpConn) Redial(err error) int {
	c.connTimer.Stop()
	c.failed(c.up.Addr(), err)
	fd := c.dial()
	if fd < 0 {
		// Counted now, not in Closed: the loop resets the client right
		// after this returns, and a client that sees the RST may read
		// the stats before Closed runs.
		c.t.noReal.Add(1)
		return -1
	}
	c.armConnect()
	return fd
}

// Connected counts the connection open and active on its real, and
// starts the idle timeout.
func (c *tcpConn) Connected() {
	c.connTimer.Stop()
	c.connected = true
	c.t.open.Add(1)
	c.up.AddConns(1, 0)
	if c.cfg.IdleTimeout > 0 {
		c.idle = c.t.watchIdle(c, c.cfg.IdleTimeout)
	}
}

// Ended counts the direction from side that ended first (the client's
// FIN or the real's) and moves the connection to inactive, as IPVS counts
// a connection in FIN_WAIT.
func (c *tcpConn) Ended(side int, n uint64) {
	c.t.countBytes(c, side == 0, n)
	c.counted[side] = true
	if !c.halfClosed {
		c.halfClosed = true
		c.up.AddConns(-1, 1)
	}
}

// Closed counts what Ended did not and gives back the connection's
// counts and its gate slot.
func (c *tcpConn) Closed(_ error, n [2]uint64) {
	c.connTimer.Stop()
	if c.idle != nil {
		c.idle.Stop()
	}
	if c.connected {
		for side, done := range c.counted {
			if !done {
				c.t.countBytes(c, side == 0, n[side])
			}
		}
		if c.halfClosed {
			c.up.AddConns(0, -1)
		} else {
			c.up.AddConns(-1, 0)
		}
		c.t.open.Add(-1)
	}
	c.t.conns.Remove(c)
	c.t.gate.Release()
}
