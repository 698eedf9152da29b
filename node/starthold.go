package node

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
)

// holdSet shares the one SYN hold table (nft.Hold, one `inet hapair_hold`
// per host) among its users: a drained move on the old owner
// (standbyDrained) and the starts of groups on the new owner
// (withStartHold). Each holds its VIP:ports under its own key; the table
// holds their union and goes when the last key is released, so one user's
// release never lifts another's hold. Safe for concurrent use.
type holdSet struct {
	h  synHold
	mu sync.Mutex
	by map[string][]netip.AddrPort
}

func newHoldSet(h synHold) *holdSet { return &holdSet{h: h, by: map[string][]netip.AddrPort{}} }

// Install holds vips under key, replacing what key held, in one batch
// with the other keys' VIP:ports. On an error key holds what it held
// before (the kernel refused the whole batch).
func (s *holdSet) Install(key string, vips []netip.AddrPort) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.by[key]
	s.by[key] = vips
	if err := s.h.Install(s.union()); err != nil {
		if had {
			s.by[key] = old
		} else {
			delete(s.by, key)
		}
		return err
	}
	return nil
}

// Release drops key's VIP:ports: the table keeps the other keys' union,
// or goes when none is left. A key not held changes nothing.
func (s *holdSet) Release(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.by[key]; !ok {
		return nil
	}
	delete(s.by, key)
	if u := s.union(); len(u) > 0 {
		return s.h.Install(u)
	}
	return s.h.Release()
}

// ReleaseAll removes the table whatever holds it (at had's stop, the
// backstop: a stopped had never leaves SYNs dropped).
func (s *holdSet) ReleaseAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.by)
	return s.h.Release()
}

// union is every key's VIP:ports once each, sorted (a stable batch).
func (s *holdSet) union() []netip.AddrPort {
	var out []netip.AddrPort
	for _, vips := range s.by {
		for _, v := range vips {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// withStartHold holds new TCP connections to g's VIPs while the resources
// after its VIPs start, when one of them is more than a balancer (a
// script, a sync daemon): such a resource may fail, and a failed start
// rolls the group back, VIPs and all (Heartbeat's haresources, Pacemaker's
// groups), breaking every connection the node accepted meanwhile. Held,
// a client's SYN is dropped, retransmitted (RFC 6298 section 2: initial
// RTO 1 s) and reaches whichever node holds the group once the start has
// settled. A group whose VIPs come last is not held: nothing after them
// can roll it back. The hold goes in place first (before the VIPs come, it
// holds nothing: no SYN for them reaches this node) and is lifted after
// the last resource started; a failed start lifts it once the rollback
// has removed the VIPs. Without e.holds (no nftables, no
// proxied service, a dry run) or a TCP service on the VIPs, no hold.
func (e *env) withStartHold(g config.Group, rs []resource.Resource) []resource.Resource {
	if e.holds == nil || e.config == nil || !mayFailAfterVIPs(g) {
		return rs
	}
	var services []string
	for _, r := range g.Resources {
		if r.Balancer != nil {
			services = append(services, r.Balancer.Services...)
		}
	}
	// Read at each start: a reload may have changed the services' ports.
	vips := func() []netip.AddrPort { return heldVIPs(e.config(), []string{g.Name}, services) }
	h := &startHold{group: g.Name, vips: vips, holds: e.holds, log: e.log}
	return slices.Concat([]resource.Resource{h}, rs, []resource.Resource{startHoldLift{h}})
}

// mayFailAfterVIPs reports whether g has a resource after its last VIP
// other than a balancer (whose start activates services bound on every
// node and cannot fail for want of anything the VIP brings).
func mayFailAfterVIPs(g config.Group) bool {
	last := -1
	for i, r := range g.Resources {
		if r.Kind == config.KindVIP {
			last = i
		}
	}
	if last < 0 {
		return false
	}
	return slices.ContainsFunc(g.Resources[last+1:], func(r config.Resource) bool { return r.Kind != config.KindBalancer })
}

// startHold puts the hold in place (Start) and lifts it after a rollback
// (Stop, reached after the VIPs' Stop in the reverse order). At a stop of
// the started group it has nothing to lift. Its key is
// the group's, so a drained move's hold of the same VIPs stays.
type startHold struct {
	group string
	vips  func() []netip.AddrPort
	holds *holdSet
	log   *slog.Logger
}

func (h *startHold) key() string  { return "start " + h.group }
func (h *startHold) Name() string { return "SYN hold while group " + h.group + " starts" }

// Start never fails the group: without the hold, the start goes on as it
// would on a host without nftables.
func (h *startHold) Start(context.Context) error {
	vips := h.vips()
	if len(vips) == 0 {
		return nil
	}
	if err := h.holds.Install(h.key(), vips); err != nil {
		h.log.Warn("starting without a SYN hold: a failed start would reset the connections accepted meanwhile", "group", h.group, "err", err)
	}
	return nil
}

func (h *startHold) Stop(context.Context) error { return h.lift("rolled back") }

func (h *startHold) Status(context.Context) error { return nil }

func (h *startHold) lift(why string) error {
	if err := h.holds.Release(h.key()); err != nil {
		h.log.Error("lifting the SYN hold of a group's start failed: new connections to its services are dropped", "group", h.group, "err", err)
		return err
	}
	h.log.Debug("start's SYN hold lifted", "group", h.group, "why", why)
	return nil
}

// startHoldLift is the group's last resource: started, the whole group
// is, and the hold goes. A lift that fails is logged and does not fail
// the start: rolling the group back would not bring the SYNs through
// either. Its Stop does nothing (the hold's own Stop lifts it after a
// rollback).
type startHoldLift struct{ h *startHold }

func (l startHoldLift) Name() string {
	return "lifting the " + l.h.Name()
}

func (l startHoldLift) Start(context.Context) error {
	_ = l.h.lift("group started") // logged by lift
	return nil
}

func (l startHoldLift) Stop(context.Context) error   { return nil }
func (l startHoldLift) Status(context.Context) error { return nil }
