package check

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"time"

	"github.com/hapair/hapair/proxy/evloop"
)

// loopCheck is a connect check made on one of the balancer's event loops
// (evloop.ConnectProbe) rather than on a goroutine of its own, as HAProxy
// makes its checks in its event loops: no goroutine, runtime timer or Go
// poller registration per check, and raw system calls, so that the
// runtime never hands the P of a connect that runs the loopback
// handshake to another thread. BenchmarkProber1000Connect, 6 interleaved
// runs of 5 s: 5.4-7.5% of a core, median 6.3%, against 7.0-10.6%,
// median 8.1%, with a goroutine per check (DESIGN.md: 1,000 reals
// checked every second under 10% of one core).
type loopCheck struct {
	p     *Prober
	j     *job
	l     *evloop.Loop
	start time.Time
	probe evloop.ConnectProbe
}

// startOnLoop starts j's check by c on the event loop l (nil: the next
// loop in turn), holding one of p.sem's slots until it ends, and returns
// the loop, or nil when no loop can be had (epoll_create1 failed: the
// caller checks on a goroutine instead).
func (p *Prober) startOnLoop(l *evloop.Loop, j *job, c *ConnectChecker, target netip.AddrPort) *evloop.Loop {
	if l == nil {
		var err error
		if l, err = evloop.Pick(); err != nil {
			return nil
		}
	}
	lc := &loopCheck{p: p, j: j, l: l, start: p.cfg.Clock.Now()}
	lc.probe = evloop.ConnectProbe{Addr: target, Timeout: c.Timeout, Done: lc.done}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		// Stop has begun (and may have cancelled the checks in flight
		// already): start no more.
		p.mu.Unlock()
		<-p.sem
		return l
	}
	p.onLoop[lc] = struct{}{}
	p.wg.Add(1)
	p.mu.Unlock()
	l.Post(lc.run)
	return l
}

// run starts the check; on lc.l's goroutine.
func (lc *loopCheck) run() { lc.l.StartProbe(&lc.probe) }

// done records how the check ended; on lc.l's goroutine, so it takes
// only p.mu and never calls OnChange itself (recordLocked queues it).
// Its reasons are ConnectChecker.Check's.
func (lc *loopCheck) done(err error) {
	p := lc.p
	took := p.cfg.Clock.Now().Sub(lc.start)
	switch {
	case errors.Is(err, evloop.ErrConnectTimeout):
		err = os.ErrDeadlineExceeded
	case errors.Is(err, evloop.ErrProbeCanceled):
		err = context.Canceled
	}
	if err != nil {
		err = reason("connect "+lc.probe.Addr.String(), err, lc.probe.Timeout)
	}
	<-p.sem
	p.mu.Lock()
	delete(p.onLoop, lc)
	if p.ctx.Err() == nil { // stopping: a cancelled check says nothing about the real
		p.recordLocked(lc.j, lc.start, took, err)
	}
	p.mu.Unlock()
	p.wg.Done()
}

// cancelOnLoops ends the checks in flight on loops (Stop): each hears
// ErrProbeCanceled on its loop, after its start, which was posted first.
func (p *Prober) cancelOnLoops() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for lc := range p.onLoop {
		lc.l.Post(lc.probe.Cancel)
	}
}
