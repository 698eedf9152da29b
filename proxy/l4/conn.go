package l4

import (
	"errors"
	"net/netip"

	"github.com/hapair/hapair/proxy/evloop"
	"github.com/hapair/hapair/proxy/upstream"
)

// tcpConn is one forwarded connection, set up and relayed by an event
// loop (package evloop; side 0 the client, side 1 the real). It is the
// loop's Connector. It is reused: once closed, it goes back to its
// loopAcceptor's free list (connPool) for a later connection on the same
// loop, a generation later. All its fields are the loop goroutine's;
// other goroutines know a connection only by its connKey.
type tcpConn struct {
	// Set once, for the life of the object:
	a         *loopAcceptor // whose free list it returns to; on a.l
	t         *TCPProxy
	connTimer evloop.Timer // runs expire
	idle      evloop.Timer // runs inspectIdle
	checkIdle func(fds [2]int) error

	// Per connection (clear resets them):
	gen        uint64 // bumped by clear: a connKey of an older one is stale
	cfg        *TCPConfig
	from       netip.AddrPort
	pair       evloop.Ref
	up         upstream.Upstream // the real connected to, or being connected to
	tried      []netip.AddrPort  // reals whose connect failed
	attempt    int               // the connect under way, from 1 (evloop's count)
	connected  bool
	halfClosed bool
	closed     bool // Closed ran
	counted    [2]bool
}

// connKey is a connection in the proxy's set: the tcpConn, its
// generation and its Pair's Ref, copied in when it was added. Close
// reads the Ref from the key, under the set's lock, never from the
// tcpConn (the loop's), and a key whose connection ended and whose
// tcpConn and Pair serve another by now reaches neither: the Ref is
// stale, and the set holds the new one under another generation.
type connKey struct {
	c    *tcpConn
	gen  uint64
	pair evloop.Ref
}

// reset resets k's connection (RST both ways), unless it ended already.
// Safe from any goroutine.
func (k connKey) reset() { k.pair.Abort(errReset) }

// start starts connecting an accepted client (its socket cfd, from its
// address from) to a real and hands both sockets to a's loop, which
// waits for the connect and relays: no goroutine per connection. Loop
// goroutine only. The connection's gate slot is given back when it ends.
func (t *TCPProxy) start(a *loopAcceptor, cfd int, from netip.AddrPort) {
	c := a.conns.get(a)
	c.cfg, c.from = t.cfg.Load(), from
	rfd := c.dial()
	if rfd < 0 {
		t.noReal.Add(1)
		evloop.CloseReset(cfd)
		t.gate.Release()
		a.conns.put(c)
		return
	}
	c.armConnect()
	c.pair = a.l.StartConnecting(cfd, rfd, c)
	if c.closed {
		return // reset at once: Closed has run, and queued c
	}
	if !t.conns.Add(c.key()) {
		// The proxy is closed (Close): reset, as Close resets the rest.
		c.pair.Abort(errReset)
	}
}

// key returns c's connKey for the connection it serves now.
func (c *tcpConn) key() connKey { return connKey{c, c.gen, c.pair} }

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
func (c *tcpConn) armConnect() { c.connTimer.Reset(c.cfg.ConnectTimeout) }

// expire ends the connect under way: the timer is stopped and armed again
// with each attempt, so c.attempt is the one it was armed for.
func (c *tcpConn) expire() { c.pair.Expire(c.attempt) }

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
		c.idle.Reset(c.cfg.IdleTimeout)
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

// Closed counts what Ended did not, gives back the connection's counts
// and its gate slot, and hands c back to its free list.
func (c *tcpConn) Closed(_ error, n [2]uint64) {
	c.closed = true
	c.connTimer.Stop()
	c.idle.Stop()
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
	c.t.conns.Remove(c.key())
	c.t.gate.Release()
	c.a.conns.put(c)
}

// errIdle is what a connection closed by the idle timeout reports.
var errIdle = errors.New("l4: idle timeout")

// inspectIdle is the idle timer's: it has the loop check c's sockets
// (idleFor). The loop's timer is no runtime timer per connection, which
// with the default 15 minutes each connection would make and stop. It
// fires at most once per timeout per connection.
func (c *tcpConn) inspectIdle() { c.pair.Inspect(c.checkIdle) }

// idleCheck resets c once neither socket has carried data for the idle
// timeout. It reads the kernel's own clocks (TCP_INFO
// last_data_recv/last_data_sent) instead of stamping each read, which
// would cost the loop a clock read per message; it runs on c's loop,
// which owns the sockets.
func (c *tcpConn) idleCheck(fds [2]int) error {
	a, errA := idleFor(fds[0])
	b, errB := idleFor(fds[1])
	if errA != nil || errB != nil {
		return nil // not connected any more: the loop sees the error itself
	}
	timeout := c.cfg.IdleTimeout
	if idle := min(a, b); idle < timeout {
		c.idle.Reset(timeout - idle)
		return nil
	}
	c.t.idleClosed.Add(1)
	return errIdle
}
