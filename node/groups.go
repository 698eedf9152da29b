package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/vip"
)

// groupSet is the agent's GroupRunner and Announcer: it maps group names to
// resource groups, and lets a reload swap a group's resources. It records
// when each group last started, for the takeover timeline in status.
type groupSet struct {
	mu     sync.Mutex
	groups map[string]*managedGroup
}

type managedGroup struct {
	// op serializes start, stop and reload swaps of one group; the agent
	// never overlaps operations on a group, but a reload may come at any time.
	op  sync.Mutex
	res *resource.Group
	// vips, held, started and running are read and written under the
	// set's mu, not op: status reads them and must not wait for a start
	// in progress (a script's, up to its timeout).
	vips    []*vip.VIP
	held    bool
	started time.Time // last Start call
	running time.Time // last successful Start
	// local: an active-active group, held by every healthy node at once;
	// the node starts and stops it (startLocal, stopLocal), and the
	// machine's start and stop for it change nothing.
	local bool
}

func newGroupSet() *groupSet { return &groupSet{groups: map[string]*managedGroup{}} }

func (s *groupSet) add(name string, g *resource.Group, vips []*vip.VIP) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[name] = &managedGroup{res: g, vips: vips}
}

func (s *groupSet) get(name string) (*managedGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	if !ok {
		return nil, fmt.Errorf("group %q is not configured", name)
	}
	return g, nil
}

// setLocal marks group name active-active.
func (s *groupSet) setLocal(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[name].local = true
}

// local returns the active-active groups' names.
func (s *groupSet) locals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, g := range s.groups {
		if g.local {
			out = append(out, n)
		}
	}
	return out
}

// Start starts group name's resources unless the group is active-active:
// the machine's start and stop change nothing for such a group, which the
// node starts and stops itself (startLocal, stopLocal).
func (s *groupSet) Start(ctx context.Context, name string) error {
	return s.unlessLocal(ctx, name, s.startLocal)
}

// Stop stops group name's resources unless the group is active-active.
func (s *groupSet) Stop(ctx context.Context, name string) error {
	return s.unlessLocal(ctx, name, s.stopLocal)
}

// unlessLocal runs op on group name unless the group is active-active.
func (s *groupSet) unlessLocal(ctx context.Context, name string, op func(context.Context, string) error) error {
	if g, err := s.get(name); err == nil && g.local {
		return nil
	}
	return op(ctx, name)
}

// startLocal starts group name's resources.
func (s *groupSet) startLocal(ctx context.Context, name string) error {
	return s.locked(name, func(g *managedGroup) error {
		s.set(func() { g.started = time.Now() })
		if err := g.res.Start(ctx); err != nil {
			return err
		}
		s.set(func() { g.held, g.running = true, time.Now() })
		return nil
	})
}

// stopLocal stops group name's resources.
func (s *groupSet) stopLocal(ctx context.Context, name string) error {
	return s.locked(name, func(g *managedGroup) error {
		s.set(func() { g.held = false })
		return g.res.Stop(ctx)
	})
}

// locked runs f on group name holding the group's op lock, so that it
// sees no start or stop half done.
func (s *groupSet) locked(name string, f func(g *managedGroup) error) error {
	g, err := s.get(name)
	if err != nil {
		return err
	}
	g.op.Lock()
	defer g.op.Unlock()
	return f(g)
}

// Announce re-sends gratuitous ARP for a group (a rival owner was heard).
func (s *groupSet) Announce(name string) {
	if g, err := s.get(name); err == nil {
		g.res.Announce()
	}
}

// removeStale drops VIPs left on this node by an earlier run: at start the
// node owns nothing, and a stale VIP would blackhole clients (Heartbeat 3
// keeps it silently). Groups are re-acquired through the machine.
func (s *groupSet) removeStale(ctx context.Context) map[string][]string {
	s.mu.Lock()
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		names = append(names, n)
	}
	s.mu.Unlock()
	removed := map[string][]string{}
	for _, n := range names {
		g, _ := s.get(n)
		g.op.Lock()
		if gone, _ := g.res.RemoveStale(ctx); len(gone) > 0 {
			removed[n] = gone
		}
		g.op.Unlock()
	}
	return removed
}

// replace swaps the resources of group name (reload). A held group is
// stopped with its old resources and started with the new ones, so a
// changed definition takes effect; other groups are never touched.
func (s *groupSet) replace(ctx context.Context, name string, res *resource.Group, vips []*vip.VIP) error {
	s.mu.Lock()
	g, ok := s.groups[name]
	if !ok {
		s.groups[name] = &managedGroup{res: res, vips: vips}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	g.op.Lock()
	defer g.op.Unlock()
	old := g.res
	held := false
	s.set(func() { g.res, g.vips, held = res, vips, g.held })
	if !held {
		return nil
	}
	stopErr := old.Stop(ctx)
	if err := res.Start(ctx); err != nil {
		s.set(func() { g.held = false })
		return fmt.Errorf("restarting group %q with its new resources: %w", name, err)
	}
	if stopErr != nil {
		return fmt.Errorf("stopping group %q's old resources: %w", name, stopErr)
	}
	return nil
}

// vipsByGroup returns each group's VIPs, for the watcher: it must not wait
// for a group's start or stop, so it reads under s.mu only.
func (s *groupSet) vipsByGroup() map[string][]*vip.VIP {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]*vip.VIP, len(s.groups))
	for n, g := range s.groups {
		out[n] = g.vips
	}
	return out
}

// held reports whether group name's resources run here.
func (s *groupSet) held(name string) (held bool) {
	s.read(name, func(g *managedGroup) { held = g.held })
	return held
}

// set runs f, which writes fields status reads, under s.mu.
func (s *groupSet) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// read runs f on group name under s.mu (not its op lock: a status read
// does not wait for a start or stop in progress).
func (s *groupSet) read(name string, f func(g *managedGroup)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.groups[name]; ok {
		f(g)
	}
}

// firstPacket returns when the first packet for any of group name's VIPs
// arrived after its last takeover (zero until one did).
func (s *groupSet) firstPacket(name string) (first time.Time) {
	s.read(name, func(g *managedGroup) {
		first = earliest(g.vips, func(st vip.Stats) time.Time { return st.FirstPacket })
	})
	return first
}

// timeline returns the last start times of group name.
func (s *groupSet) timeline(name string) (started, running, firstARP time.Time) {
	s.read(name, func(g *managedGroup) {
		started, running = g.started, g.running
		firstARP = earliest(g.vips, func(st vip.Stats) time.Time { return st.FirstAnnounce })
	})
	return started, running, firstARP
}

// earliest returns the earliest non-zero time that at reads from the
// VIPs' stats, or zero when none has one.
func earliest(vips []*vip.VIP, at func(vip.Stats) time.Time) time.Time {
	var first time.Time
	for _, v := range vips {
		if t := at(v.Stats()); !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}
