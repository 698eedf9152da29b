package ha

import (
	"fmt"
	"strings"
	"time"
)

// naturalPrio is this node's priority for g before operator pins: 0 when its
// resources failed here, else the base minus failed checks (at least 1, so a
// degraded node still serves when it is the only one left).
func (m *Machine) naturalPrio(g *group) uint8 {
	if g.state == StateFailed {
		return 0
	}
	p := int(basePriority(&g.cfg, m.cfg.Self))
	for _, c := range m.checks {
		if c.failed {
			p -= int(c.weight)
		}
	}
	return uint8(max(p, 1))
}

// selfPrio is the priority this node advertises for g.
func (m *Machine) selfPrio(g *group) uint8 {
	switch {
	case m.leaving || g.state == StateFailed:
		return 0
	case g.takeoverPin:
		return PriorityTakeover
	case g.standbyPin:
		return PriorityStandby
	}
	return m.naturalPrio(g)
}

// trackPriority restarts the stability clock when the natural priority moves
// (a check flapping makes the node unstable for auto_failback).
func (m *Machine) trackPriority(g *group) {
	if p := m.naturalPrio(g); p != g.natural {
		g.natural, g.prioSince = p, m.now
		m.dirty = true
	}
}

// candidate is one node that may hold a group, as this node sees it.
type candidate struct {
	name   string
	prio   uint8
	state  State
	stable bool // up and at this priority for FailbackHold
	frozen bool // in maintenance and holding the group: nobody touches it
}

func (c candidate) String() string { return fmt.Sprintf("%s=%d", c.name, c.prio) }

// outranks reports whether a beats b: higher priority, then lower name.
func (a candidate) outranks(b candidate) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	return a.name < b.name
}

func best(cs []candidate) (candidate, bool) {
	var b candidate
	for i, c := range cs {
		if i == 0 || c.outranks(b) {
			b = c
		}
	}
	return b, len(cs) > 0
}

func (m *Machine) candidates(g *group) []candidate {
	hold := m.cfg.FailbackHold
	var cs []candidate
	if p := m.selfPrio(g); p > 0 {
		since := later(m.startAt, g.prioSince)
		cs = append(cs, candidate{name: m.cfg.Self, prio: p, state: g.state, stable: m.now.Sub(since) >= hold})
	}
	for _, n := range m.peerNames {
		p := m.peers[n]
		pg, ok := p.groups[g.cfg.Name]
		if !p.alive || !ok || pg.prio == 0 {
			continue
		}
		if p.maint && !pg.state.Owns() {
			continue
		}
		since := later(p.aliveSince, pg.prioSince)
		cs = append(cs, candidate{name: n, prio: pg.prio, state: pg.state, frozen: p.maint,
			stable: m.now.Sub(since) >= hold})
	}
	return cs
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// desired picks the node that should hold g, with the reason. It is a pure
// function of the candidates: every node that sees the same heartbeats picks
// the same node.
func (m *Machine) desired(g *group) (string, string) {
	cs := m.candidates(g)
	if len(cs) == 0 {
		return "", "no node can hold it"
	}
	list := joinCandidates(cs)
	for _, c := range cs {
		if c.frozen {
			return c.name, fmt.Sprintf("%s holds it in maintenance", c.name)
		}
	}
	top, _ := best(cs)
	var owners []candidate
	for _, c := range cs {
		if c.state.Owns() {
			owners = append(owners, c)
		}
	}
	o, owned := best(owners)
	if top.prio == PriorityTakeover {
		return top.name, fmt.Sprintf("takeover requested on %s (%s)", top.name, list)
	}
	if !owned {
		return top.name, fmt.Sprintf("no owner, %s ranks first (%s)", top.name, list)
	}
	if !m.cfg.AutoFailback {
		base := basePriority(&g.cfg, o.name)
		if o.prio >= base {
			return o.name, fmt.Sprintf("%s holds it (auto_failback off; %s)", o.name, list)
		}
		if top.name == o.name {
			return o.name, fmt.Sprintf("%s holds it, still ranks first (%s)", o.name, list)
		}
		return top.name, fmt.Sprintf("owner %s priority %d below its base %d, %s ranks first (%s)", o.name, o.prio, base, top.name, list)
	}
	var eligible []candidate
	for _, c := range cs {
		if c.state.Owns() || c.stable {
			eligible = append(eligible, c)
		}
	}
	e, _ := best(eligible)
	if e.name == o.name {
		if top.name != o.name {
			return o.name, fmt.Sprintf("%s holds it, %s not stable for %v yet (%s)", o.name, top.name, m.cfg.FailbackHold, list)
		}
		return o.name, fmt.Sprintf("%s holds it and ranks first (%s)", o.name, list)
	}
	if e.state.Owns() {
		return e.name, fmt.Sprintf("%s and %s both hold it, %s ranks first (%s)", e.name, o.name, e.name, list)
	}
	return e.name, fmt.Sprintf("auto_failback: %s stable for %v outranks owner %s (%s)", e.name, m.cfg.FailbackHold, o.name, list)
}

func joinCandidates(cs []candidate) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, " ")
}

// claims reports whether node holds g as this node sees it.
func (m *Machine) claims(node string, g *group) bool {
	if node == m.cfg.Self {
		return g.state.Owns()
	}
	p := m.peers[node]
	return p != nil && p.alive && p.groups[g.cfg.Name].state.Owns()
}

func (m *Machine) allPeersHeard() (bool, string) {
	var missing []string
	for _, n := range m.peerNames {
		if !m.peers[n].heard {
			missing = append(missing, n)
		}
	}
	return len(missing) == 0, strings.Join(missing, ",")
}

// evaluate moves g toward its desired owner.
func (m *Machine) evaluate(g *group) {
	if m.maint {
		g.waiting = "maintenance: frozen"
		return
	}
	if m.leaving {
		return
	}
	switch g.state {
	case StateStarting, StateStopping:
		return // wait for the resources to report
	case StateFailed:
		if m.now.Before(g.retryAt) {
			return
		}
		m.setState(g, StateStandby, fmt.Sprintf("failure backoff over after %d failure(s); may hold the group again", g.failures))
		m.trackPriority(g)
	}
	m.watchRivals(g)
	if g.state == StateStandby && !m.initdeadOver {
		if ok, missing := m.allPeersHeard(); !ok {
			m.wait(g, fmt.Sprintf("initdead: waiting up to %v for %s", m.cfg.Initdead, missing))
			return
		}
	}
	d, why := m.desired(g)
	switch g.state {
	case StateStandby:
		if d == m.cfg.Self {
			m.setState(g, StateStarting, "taking over: "+why)
			m.out = append(m.out, Action{Kind: ActionStart, Group: g.cfg.Name, Reason: why})
			return
		}
		m.wait(g, "standby: "+why)
	case StateMaster:
		if d == m.cfg.Self || d == "" {
			return
		}
		if !m.claims(d, g) {
			m.wait(g, fmt.Sprintf("holding until %s takes it: %s", d, why))
			return
		}
		reason := fmt.Sprintf("releasing to %s: %s", d, why)
		m.setState(g, StateStopping, reason)
		m.out = append(m.out, Action{Kind: ActionStop, Group: g.cfg.Name, Reason: reason})
	}
}

// wait records why g is left as it is, once per distinct reason.
func (m *Machine) wait(g *group, reason string) {
	g.waiting = reason
}

// watchRivals spots split brain: a peer holding a group we hold (both
// master), or one we find releasing it (we never saw it master: it lost the
// race to our heartbeat). The winner re-announces once per episode so
// switches and clients that followed the rival's gratuitous ARP come back;
// the loser is released by evaluate. A peer merely starting is a handover.
func (m *Machine) watchRivals(g *group) {
	for _, n := range m.peerNames {
		p := m.peers[n]
		st := p.groups[g.cfg.Name].state
		held := g.state == StateMaster && p.alive && (st == StateMaster || st == StateStopping)
		switch {
		case held && !g.rivals[n]:
			g.rivals[n] = true
			d, _ := m.desired(g)
			if st == StateMaster {
				m.log(LevelWarn, n, fmt.Sprintf("split brain: %s also holds %s", n, g.cfg.Name))
			}
			if d == m.cfg.Self {
				why := fmt.Sprintf("split brain with %s resolved in our favour: re-announcing", n)
				if st == StateStopping {
					why = fmt.Sprintf("%s held %s until now (stopping): re-announcing", n, g.cfg.Name)
				}
				m.out = append(m.out, Action{Kind: ActionAnnounce, Group: g.cfg.Name, Reason: why})
			}
		case !held && g.rivals[n]:
			delete(g.rivals, n)
			if g.state == StateMaster {
				m.log(LevelInfo, n, fmt.Sprintf("%s no longer holds %s", n, g.cfg.Name))
			}
		}
	}
}
