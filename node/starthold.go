package node

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
)

// holdSet shares the one SYN hold table (nft.Hold, one `inet hapair_hold`
// per host) among its users: a drained move on the old owner
// (standbyDrained) and the starts of groups on the new owner
// (withStartHold). Each holds its VIP:ports under its own key; the table
// holds their union and goes when the last key is released, so one user's
// release never lifts another's hold. A release the kernel refused is
// retried every holdRetry until the table matches again: SYNs to a group
// that has started must not stay dropped for want of a second try. Safe
// for concurrent use.
type holdSet struct {
	h   synHold
	log *slog.Logger

	mu    sync.Mutex
	by    map[string][]netip.AddrPort
	retry *time.Timer // pending re-sync after a refused release; nil if none
}

// holdRetry is how often a refused release is tried again.
const holdRetry = time.Second

func newHoldSet(h synHold, log *slog.Logger) *holdSet {
	return &holdSet{h: h, log: log, by: map[string][]netip.AddrPort{}}
}

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
	s.stopRetry()
	return nil
}

// Release drops key's VIP:ports: the table keeps the other keys' union,
// or goes when none is left. A key not held changes nothing. When the
// kernel refuses, the error is returned and the release is retried.
func (s *holdSet) Release(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.by[key]; !ok {
		return nil
	}
	delete(s.by, key)
	return s.sync()
}

// sync makes the table hold the union (none: no table); a refusal arms
// the retry. s.mu is held.
func (s *holdSet) sync() error {
	var err error
	if u := s.union(); len(u) > 0 {
		err = s.h.Install(u)
	} else {
		err = s.h.Release()
	}
	if err == nil {
		s.stopRetry()
		return nil
	}
	if s.retry == nil {
		s.retry = time.AfterFunc(holdRetry, s.retrySync)
	}
	return err
}

func (s *holdSet) retrySync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retry == nil {
		return // stopped meanwhile
	}
	s.retry = nil
	if err := s.sync(); err != nil {
		s.log.Error("lifting a SYN hold failed again: new connections to the held services are dropped; retrying", "every", holdRetry, "err", err)
		return
	}
	s.log.Info("SYN hold lifted on retry")
}

func (s *holdSet) stopRetry() {
	if s.retry != nil {
		s.retry.Stop()
		s.retry = nil
	}
}

// ReleaseAll removes the table whatever holds it (at had's stop, the
// backstop: a stopped had never leaves SYNs dropped) and ends the retry.
func (s *holdSet) ReleaseAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.by)
	s.stopRetry()
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

// withStartHold holds new TCP connections to g's proxied services on its
// VIPs while the resources after its first VIP start, when one of them is
// more than a VIP or a balancer (a script, a sync daemon). Such a
// resource may fail, and a failed start rolls the group back, VIPs and
// all (Heartbeat's haresources, Pacemaker's groups), breaking every
// connection the node accepted meanwhile. Held, a client's SYN is
// dropped, retransmitted (RFC 6298 section 2: initial RTO 1 s) and
// reaches whichever node holds the group once the start has settled.
//
// The hold goes in place first (before the VIPs come it holds nothing: no
// SYN for them reaches this node) and is lifted after the last resource
// started; a failed start lifts it once the rollback has removed the
// VIPs. A group whose VIPs come after every other resource is not held:
// nothing after them can roll it back. Without e.holds (no nftables, no
// proxied service, a dry run) or a proxied TCP service on the VIPs, no
// hold.
func (e *env) withStartHold(cfg *config.Config, g config.Group, rs []resource.Resource) []resource.Resource {
	if e.holds == nil || !mayFailAfterVIPs(g) {
		return rs
	}
	// The proxied TCP services only: the hook the hold drops SYNs at
	// (input) never sees a nat or dr service's, translated or sent on
	// before it.
	var services []string
	for _, r := range g.Resources {
		if r.Balancer == nil {
			continue
		}
		for _, name := range r.Balancer.Services {
			if !e.kernelNames[name] {
				services = append(services, name)
			}
		}
	}
	// From cfg, the config the group is built from: a reload restarts a
	// held group before had's own config is replaced.
	vips := heldVIPs(cfg, []string{g.Name}, services)
	if len(vips) == 0 {
		return rs
	}
	h := &startHold{group: g.Name, vips: vips, holds: e.holds, log: e.log}
	return slices.Concat([]resource.Resource{h}, rs, []resource.Resource{startHoldLift{h}})
}

// mayFailAfterVIPs reports whether g has a resource after its first VIP
// other than a VIP or a balancer: one whose failure rolls back a VIP
// already announced. (A balancer's proxied services are active before the
// VIPs on every node; its kernel services' start can fail, but they are
// not held either, see withStartHold.)
func mayFailAfterVIPs(g config.Group) bool {
	first := slices.IndexFunc(g.Resources, func(r config.Resource) bool { return r.Kind == config.KindVIP })
	if first < 0 {
		return false
	}
	return slices.ContainsFunc(g.Resources[first+1:], func(r config.Resource) bool {
		return r.Kind != config.KindBalancer && r.Kind != config.KindVIP
	})
}

// startHold puts the hold in place (Start) and lifts it after a rollback
// (Stop, reached after the VIPs' Stop in the reverse order); at a stop of
// the started group it has nothing to lift. Its key is the group's, so a
// drained move's hold of the same VIPs stays.
type startHold struct {
	group string
	vips  []netip.AddrPort
	holds *holdSet
	log   *slog.Logger
}

func (h *startHold) key() string  { return "start " + h.group }
func (h *startHold) Name() string { return "SYN hold while group " + h.group + " starts" }

// Start never fails the group: without the hold, the start goes on as it
// would on a host without nftables.
func (h *startHold) Start(context.Context) error {
	if err := h.holds.Install(h.key(), h.vips); err != nil {
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
