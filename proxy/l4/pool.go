package l4

import "github.com/hapair/hapair/proxy/evloop"

// connPool is a loopAcceptor's free list of tcpConns, so that a new
// connection allocates no tcpConn, and no timers or closures either (a
// pooled tcpConn keeps its timers and their bound functions). The loop
// goroutine's alone.
//
// A tcpConn closed in a batch is queued (closed) and freed only at the
// end of the batch (evloop's AfterBatch), as evloop frees its Pairs:
// nothing of the batch (a post, a timer, an event of its Pair) can reach
// it after that, and what could later (a post made through its old Ref)
// is dropped by the loop as stale.
type connPool struct {
	free    evloop.FreeList[tcpConn] // at most evloop.MaxFree, as the loop's Pairs
	closed  []*tcpConn
	recycle func() // endBatch, bound once
}

// get returns a cleared tcpConn of a's, reused or new.
func (p *connPool) get(a *loopAcceptor) *tcpConn {
	if c := p.free.Get(); c != nil {
		return c
	}
	c := &tcpConn{a: a, t: a.s.t}
	c.connTimer.Init(a.l, c.expire)
	c.idle.Init(a.l, c.inspectIdle)
	c.checkIdle = c.idleCheck
	return c
}

// put queues c, whose connection ended, for the free list.
func (p *connPool) put(c *tcpConn) {
	if len(p.closed) == 0 {
		if p.recycle == nil {
			p.recycle = p.endBatch
		}
		c.a.l.AfterBatch(p.recycle)
	}
	p.closed = append(p.closed, c)
}

// endBatch moves the tcpConns closed in this batch to the free list.
func (p *connPool) endBatch() {
	for _, c := range p.closed {
		c.clear()
		p.free.Put(c)
	}
	clear(p.closed)
	p.closed = p.closed[:0]
}

// clear readies c for its next connection, a generation later: it keeps
// what is set once (its timers, stopped by Closed, and their functions)
// and the capacity of tried.
func (c *tcpConn) clear() {
	clear(c.tried)
	*c = tcpConn{
		a: c.a, t: c.t, connTimer: c.connTimer, idle: c.idle, checkIdle: c.checkIdle,
		gen: c.gen + 1, tried: c.tried[:0],
	}
}
