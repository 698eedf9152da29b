package node

import (
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// Status assembles `hactl status` from the agent, the links, the groups'
// takeover timelines and the balancer.
func (n *Node) Status() ctl.Status {
	in := statusInput{
		cfg: n.config(), self: n.self, gen: n.gen, started: n.started, now: time.Now(),
		machine: n.agent.Status(), timeline: n.groups.timeline, held: n.groups.held, firstPacket: n.groups.firstPacket, recent: n.recent.list(),
		events: n.agent.Topics(),
	}
	if n.links != nil {
		in.links = n.links.Stats()
	}
	in.balancer = n.snapshot()
	st := assembleStatus(in)
	st.Sync = n.syncStatus(in.cfg)
	return st
}

// statusInput is everything status is made of, so assembling it is a pure
// function (tested without a running node).
type statusInput struct {
	cfg      *config.Config
	self     string
	gen      uint64
	started  time.Time
	now      time.Time
	machine  ha.Status
	links    link.Stats
	timeline func(group string) (started, running, firstARP time.Time)
	held     func(group string) bool // whether this node runs the group's resources
	// firstPacket is when the first packet for a group's VIPs arrived
	// after its last takeover; nil in tests that do not care.
	firstPacket func(group string) time.Time
	balancer    *proxy.Snapshot // nil without services
	recent      []ctl.Transition
	events      map[string]uint64
}

func assembleStatus(in statusInput) ctl.Status {
	cfg := in.cfg
	st := ctl.Status{
		Version: ctl.SchemaVersion, Recent: in.recent, Events: in.events,
		Node: in.self, Cluster: cfg.Cluster.Name, ClusterID: cfg.Cluster.ID,
		Generation: in.gen, Maintenance: in.machine.Maintenance, Started: in.started,
	}
	groups := map[string]*config.Group{}
	vips := map[string][]string{}
	services := map[string][]string{}
	for _, g := range cfg.Groups {
		groups[g.Name] = &g
		for _, r := range g.Resources {
			if r.VIP != nil {
				vips[g.Name] = append(vips[g.Name], r.VIP.Prefix.String())
			}
			if r.Balancer != nil {
				services[g.Name] = append(services[g.Name], r.Balancer.Services...)
			}
		}
	}
	lastHeard := map[string]time.Time{}
	for _, p := range in.machine.Peers {
		lastHeard[p.Name] = p.LastHeard
		ps := ctl.PeerStatus{
			Name: p.Name, Alive: p.Alive, LastHeard: p.LastHeard,
			Generation: p.Generation, Leaving: p.Leaving, Links: map[string]bool{}, OneWay: p.Deaf,
			Dropping: in.links.Dropping[p.Name],
			Rejected: rejectedStatus(p.Name, p.Alive, in.links.Rejected, in.now, cfg.Cluster.Deadtime),
		}
		for _, l := range in.links.Links {
			ps.Links[l.Name] = l.Up(p.Name, in.now, cfg.Cluster.Deadtime)
		}
		st.Peers = append(st.Peers, ps)
	}
	for _, g := range in.machine.Groups {
		gs := ctl.GroupStatus{
			Name: g.Name, Owner: g.Owner, State: g.State.String(),
			Priority: int(g.Priority), Reason: g.Reason, Since: g.Since, VIPs: vips[g.Name],
		}
		if cg := groups[g.Name]; cg != nil {
			if cg.ActiveActive {
				activeActive(&gs, in) // no preference, no priorities: every healthy node holds it
			} else {
				gs.Preferred, gs.Preference = cg.Preferred(), cg.Preference
				gs.Priorities = basePriorities(cg, cfg.Cluster.Nodes)
			}
		}
		if g.Waiting != "" {
			gs.Reason = strings.TrimSpace(gs.Reason + "; " + g.Waiting)
		}
		if started, running, arp := in.timeline(g.Name); !started.IsZero() {
			gs.LastTakeover = takeoverTimeline(started, running, arp, lastHeard)
			gs.LastTakeover.FirstConnection = firstConnection(in.balancer, services[g.Name], started)
			if in.firstPacket != nil {
				gs.LastTakeover.FirstPacket = in.firstPacket(g.Name)
			}
		}
		st.Groups = append(st.Groups, gs)
	}
	st.Links = linkStatuses(in.links)
	if in.balancer != nil {
		st.Balancer = balancerSummary(in.balancer)
	}
	return st
}

// takeoverTimeline is a group's last start: when the peer was last heard
// before it (the previous owner was last heard no later than the start, so
// the latest peer heard before it bounds when the outage began), the start,
// the resources running, and the first gratuitous ARP.
func takeoverTimeline(started, running, firstARP time.Time, lastHeard map[string]time.Time) *ctl.Timeline {
	tl := &ctl.Timeline{Started: started, Running: running, FirstARP: firstARP}
	for _, t := range lastHeard {
		if t.Before(started) && t.After(tl.PeerLastHeard) {
			tl.PeerLastHeard = t
		}
	}
	return tl
}

// firstConnection is the earliest first connection of the named services
// at or after started: the first client served after a takeover.
func firstConnection(snap *proxy.Snapshot, names []string, started time.Time) time.Time {
	var first time.Time
	if snap == nil {
		return first
	}
	for _, s := range snap.Services {
		t := s.FirstConnection
		if !slices.Contains(names, s.Name) || t.IsZero() || t.Before(started) {
			continue
		}
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// balancerSummary counts services and primary reals for the status line.
func balancerSummary(snap *proxy.Snapshot) *ctl.Balancer {
	b := &ctl.Balancer{}
	for _, s := range snap.Services {
		b.Services++
		if s.Active {
			b.Active++
		}
		for _, r := range s.Reals {
			if r.Pool != "primary" {
				continue
			}
			b.RealsTotal++
			if r.Healthy {
				b.RealsUp++
			}
		}
	}
	return b
}

// basePriorities lists every node's configured priority for g, in the
// group's preference order, then the unlisted nodes in cluster order.
func basePriorities(g *config.Group, nodes []string) []ctl.NodePriority {
	var out []ctl.NodePriority
	for _, n := range g.Preference {
		out = append(out, ctl.NodePriority{Node: n, Priority: int(g.Priorities[n])})
	}
	for _, n := range nodes {
		if !slices.Contains(g.Preference, n) {
			out = append(out, ctl.NodePriority{Node: n, Priority: int(g.Priorities[n])})
		}
	}
	return out
}

// linkStatuses are a link set's counters as status shows them.
func linkStatuses(ls link.Stats) []ctl.LinkStatus {
	var out []ctl.LinkStatus
	for _, l := range ls.Links {
		drops := map[string]uint64{}
		for r, n := range l.Drops {
			drops[r.String()] = n
		}
		out = append(out, ctl.LinkStatus{Name: l.Name, Kind: l.Kind, Sent: l.Sent, SendErrors: l.SendErrors,
			Received: l.Received, Drops: drops, Heard: l.Heard, SentTo: l.SentTo})
	}
	return out
}

// activeActive shows an active-active group as this node runs it: every
// healthy node holds it at once, so the machine's single owner does not
// apply; master here while its resources run (its bgp resource's health
// gate says whether it is announced).
func activeActive(gs *ctl.GroupStatus, in statusInput) {
	gs.Mode = config.ModeActiveActive
	gs.Owner, gs.State, gs.Reason = "", ha.StateStandby.String(), "active-active: not started here"
	if in.held != nil && in.held(gs.Name) {
		gs.Owner, gs.State, gs.Reason = in.self, ha.StateMaster.String(), "active-active: held by every healthy node"
	}
}
