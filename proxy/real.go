package proxy

import (
	"net/netip"
	"sync/atomic"

	"github.com/hapair/hapair/proxy/upstream"
)

// real is one real server of a service. It outlives reloads that keep its
// address, so health, drain state and connection counts carry over, and
// connections opened before a reload that removed it still count on it.
type real struct {
	addr netip.AddrPort

	weight   atomic.Int32
	healthy  atomic.Bool
	draining atomic.Bool
	active   atomic.Int64
	inactive atomic.Int64
	// scheduled counts the connections, flows and requests sent to the
	// real (ipvsadm --stats' Conns), connect attempts retried elsewhere
	// included.
	scheduled atomic.Uint64
	// bytesIn (client to real) and bytesOut (real to client): ipvsadm
	// --stats' InBytes and OutBytes, counted by the data paths.
	bytesIn, bytesOut atomic.Uint64
}

// AddBytes implements upstream.ByteCounter.
func (r *real) AddBytes(in, out uint64) {
	if in != 0 {
		r.bytesIn.Add(in)
	}
	if out != 0 {
		r.bytesOut.Add(out)
	}
}

var _ upstream.ByteCounter = (*real)(nil)

func newReal(addr netip.AddrPort, weight int) *real {
	r := &real{addr: addr}
	r.weight.Store(int32(weight))
	r.healthy.Store(true) // syncJobs sets it from the prober for checked services
	return r
}

// Addr implements upstream.Upstream.
func (r *real) Addr() netip.AddrPort { return r.addr }

// AddConns implements upstream.Upstream.
func (r *real) AddConns(active, inactive int64) {
	if active != 0 {
		r.active.Add(active)
	}
	if inactive != 0 {
		r.inactive.Add(inactive)
	}
}

// usable reports whether the real may take a new connection.
func (r *real) usable() bool {
	return r.healthy.Load() && !r.draining.Load() && r.weight.Load() > 0
}

// Interface guards: package proxy's reals are what l4 and l7 forward to.
var _ upstream.Upstream = (*real)(nil)
