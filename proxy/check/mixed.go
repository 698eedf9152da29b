package check

import (
	"context"
	"net/netip"
	"sync"
)

// MixedChecker is a check that negotiates at every Nth check of a target and
// only connects at the others (ldirectord checktype=N): cheap frequent
// liveness with a periodic application check.
//
// The first check of a target negotiates, so a real is never marked healthy
// on connects alone. Counters are per target; Forget drops one.
type MixedChecker struct {
	N         int
	Connect   Checker
	Negotiate Checker

	mu    sync.Mutex
	count map[netip.AddrPort]uint64
}

// Check connects or negotiates, by the target's check count.
func (c *MixedChecker) Check(ctx context.Context, target netip.AddrPort) error {
	c.mu.Lock()
	if c.count == nil {
		c.count = make(map[netip.AddrPort]uint64)
	}
	k := c.count[target]
	c.count[target] = k + 1
	c.mu.Unlock()
	if k%uint64(max(c.N, 1)) == 0 {
		return c.Negotiate.Check(ctx, target)
	}
	return c.Connect.Check(ctx, target)
}

// Forget drops target's counter (when the real is removed).
func (c *MixedChecker) Forget(target netip.AddrPort) {
	c.mu.Lock()
	delete(c.count, target)
	c.mu.Unlock()
}
