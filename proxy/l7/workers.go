package l7

// maxIdleWorkers bounds the goroutines kept waiting for a next client
// connection (each holds a stack of a few KiB).
const maxIdleWorkers = 128

// dispatch serves c on a worker goroutine that waits for one, or on a new
// one. A new goroutine starts on a small stack that serving a connection
// grows, copied at each step: with a new connection per request that
// growth was about 3% of the proxy's CPU per request in the bench, which
// a worker that already grew it does not pay again.
func (p *Proxy) dispatch(c *gatedConn) {
	select {
	case p.handoff <- c:
	default:
		go p.worker(c)
	}
}

// worker serves c, then waits for another connection while fewer than
// maxIdleWorkers wait, until the listeners close.
func (p *Proxy) worker(c *gatedConn) {
	for {
		p.serveConn(c)
		if p.idleWorkers.Add(1) > maxIdleWorkers {
			p.idleWorkers.Add(-1)
			return
		}
		select {
		case c = <-p.handoff:
			p.idleWorkers.Add(-1)
		case <-p.stopWorkers:
			p.idleWorkers.Add(-1)
			return
		}
	}
}

// stopIdleWorkers ends the waiting workers and the wait of those still
// serving; once: Shutdown and Close both call it.
func (p *Proxy) stopIdleWorkers() {
	p.stopOnce.Do(func() { close(p.stopWorkers) })
}
