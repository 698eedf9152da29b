// Package upstreamtest provides a fake upstream.Picker for the data-path
// tests of proxy/l4 and proxy/l7: round robin over counting fake reals. It
// does no I/O.
package upstreamtest

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hapair/hapair/proxy/upstream"
)

var (
	_ upstream.Upstream = (*Real)(nil)
	_ upstream.Picker   = (*Picker)(nil)
)

// Real is a fake upstream that counts its connections.
type Real struct {
	addr             netip.AddrPort
	active, inactive atomic.Int64
}

// Addr returns the real's address.
func (r *Real) Addr() netip.AddrPort { return r.addr }

// AddConns moves the counters.
func (r *Real) AddConns(active, inactive int64) { r.active.Add(active); r.inactive.Add(inactive) }

// Counts returns the active and inactive connection counts.
func (r *Real) Counts() (active, inactive int64) { return r.active.Load(), r.inactive.Load() }

// Picker hands out its reals in turn, skipping tried ones. It is safe for
// concurrent use.
type Picker struct {
	Reals []*Real // in the order given to NewPicker

	mu   sync.Mutex
	next int
}

// NewPicker returns a picker over one fake real per address.
func NewPicker(addrs ...netip.AddrPort) *Picker {
	p := &Picker{}
	for _, a := range addrs {
		p.Reals = append(p.Reals, &Real{addr: a})
	}
	return p
}

// Pick returns the next real not in tried.
func (p *Picker) Pick(_ netip.Addr, tried []netip.AddrPort) (upstream.Upstream, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.Reals {
		r := p.Reals[p.next%len(p.Reals)]
		p.next++
		if !slices.Contains(tried, r.addr) {
			return r, true
		}
	}
	return nil, false
}
