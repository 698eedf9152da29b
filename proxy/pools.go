package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hapair/hapair/proxy/persist"
	"github.com/hapair/hapair/proxy/sched"
	"github.com/hapair/hapair/proxy/upstream"
)

// pools is the immutable scheduling view of a service; Reload swaps it
// whole, so Pick never takes a lock.
type pools struct {
	cfg       *ServiceConfig
	primaries []*real
	backups   []*real
	fallback  *real // nil without one
	sched     sched.Scheduler
	sticky    *persist.Table // nil without persistence
}

// picker is the per-service scheduling entry point shared by l4 and l7.
type picker struct {
	pools      atomic.Pointer[pools]
	useBackups atomic.Bool // set by the pool-selection logic in health.go
	now        func() time.Time
	// first is when the first connection, flow or request was scheduled
	// since the service was last activated (Unix ns, 0 = none yet): the
	// "first client connection" of a takeover's timeline.
	first atomic.Int64
}

var candPool = sync.Pool{New: func() any { s := make([]sched.Candidate, 0, 16); return &s }}

// pick chooses a real for a new connection from client. Order: the
// client's sticky real if still usable, then the scheduler over the pool in
// use, then the fallback.
func (p *picker) pick(client netip.Addr, tried []netip.AddrPort) (*real, bool) {
	ps := p.pools.Load()
	pool := ps.primaries
	if p.useBackups.Load() {
		pool = ps.backups
	}
	if ps.sticky != nil && client.IsValid() {
		if addr, ok := ps.sticky.Lookup(client); ok && !slices.Contains(tried, addr) {
			for _, r := range pool {
				if r.addr == addr && r.usable() {
					return r, true
				}
			}
		}
	}
	cp := candPool.Get().(*[]sched.Candidate)
	cands := (*cp)[:0]
	for _, r := range pool {
		w := 0
		if r.usable() && !slices.Contains(tried, r.addr) {
			w = int(r.weight.Load())
		}
		cands = append(cands, sched.Candidate{Weight: w, Active: r.active.Load()})
	}
	i := ps.sched.Pick(cands, client)
	*cp = cands
	candPool.Put(cp)
	if i >= 0 && i < len(pool) {
		r := pool[i]
		if ps.sticky != nil && client.IsValid() {
			ps.sticky.Put(client, r.addr)
		}
		return r, true
	}
	if f := ps.fallback; f != nil && !f.draining.Load() && !slices.Contains(tried, f.addr) {
		return f, true
	}
	return nil, false
}

// Pick implements upstream.Picker for the data paths (l4 and l7).
func (p *picker) Pick(client netip.Addr, tried []netip.AddrPort) (upstream.Upstream, bool) {
	r, ok := p.pick(client, tried)
	if !ok {
		return nil, false // not a typed nil *real
	}
	r.scheduled.Add(1)
	if p.first.Load() == 0 {
		p.first.CompareAndSwap(0, p.now().UnixNano())
	}
	return r, true
}

var _ upstream.Picker = (*picker)(nil)

// buildPools makes the scheduling view for sc, reusing s.reals by address
// and prev's scheduler and persistence table where they still fit. Reals
// no longer listed are dropped from s.reals and their probes stopped.
func (b *Balancer) buildPools(s *service, sc ServiceConfig, prev *pools) (*pools, error) {
	ps := &pools{cfg: &sc}
	if prev != nil && prev.cfg.Scheduler == sc.Scheduler {
		ps.sched = prev.sched // keeps wrr/rr position
	} else {
		sch, err := sched.New(sc.Scheduler, b.rng)
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", sc.Name, err)
		}
		ps.sched = sch
	}
	if sc.Persistent > 0 {
		if prev != nil && prev.sticky != nil && prev.cfg.Persistent == sc.Persistent {
			ps.sticky = prev.sticky
		} else {
			ps.sticky = persist.New(sc.Persistent, b.clock.Now)
			if prev != nil && prev.sticky != nil {
				ps.sticky.Import(prev.sticky.Export())
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := make(map[netip.AddrPort]bool)
	take := func(rc RealConfig) *real {
		keep[rc.Address] = true
		r, ok := s.reals[rc.Address]
		if !ok {
			r = newReal(rc.Address, rc.Weight)
			s.reals[rc.Address] = r
		}
		r.weight.Store(int32(rc.Weight))
		return r
	}
	for _, rc := range sc.Reals {
		ps.primaries = append(ps.primaries, take(rc))
	}
	for _, rc := range sc.Backups {
		ps.backups = append(ps.backups, take(rc))
	}
	if sc.Fallback.IsValid() {
		ps.fallback = take(RealConfig{Address: sc.Fallback, Weight: 1})
		ps.fallback.healthy.Store(true) // the sorry server is not checked
	}
	for a := range s.reals {
		if !keep[a] {
			// Its probe is removed by syncJobs; its open connections keep
			// counting on the real.
			delete(s.reals, a)
			if ps.sticky != nil {
				ps.sticky.Forget(a)
			}
		}
	}
	return ps, nil
}
