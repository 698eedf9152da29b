package ha

import (
	"cmp"
	"fmt"
	"strings"
	"time"
)

// naturalPrio is this node's priority for g before operator pins: 0 when its
// resources failed here or the node is isolated, else the base minus failed
// checks (at least 1, so a degraded node still serves when it is the only one
// left and can still reach a ping node).
func (m *Machine) naturalPrio(g *group) uint8 {
	if g.state == StateFailed || m.iso || m.deafFor(g) != "" {
		return 0
	}
	p := int(basePriority(&g.cfg, m.cfg.Self)) - m.penalty
	return uint8(max(p, 1))
}

// selfPrio is the priority this node advertises for g.
func (m *Machine) selfPrio(g *group) uint8 {
	switch {
	case m.leaving || g.state == StateFailed || m.iso || m.deafFor(g) != "":
		return 0 // isolation and one-way loss beat an operator's pin: a node its peer cannot hear must not grab a group
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
	cs := m.cbuf[:0] // reused: desired runs on every event; callers use the result at once
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
	m.cbuf = cs
	return cs
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// decision is the outcome of desired, with what is needed to explain it.
// Its reason is formatted only when it is shown: desired runs on every event.
type decision struct {
	kind   decisionKind
	winner string
	top    candidate // best ranked candidate
	owner  candidate // best ranked current owner
	base   uint8     // owner's base priority
	list   []candidate
	hold   time.Duration
	self   string
	gated  bool // decFailback and decNotReady of a group with FailbackGate
	gate   gate // decNotReady of this node, decFailback to it: its readiness
	// decNotReady of a peer: the healthy count it advertises, if any
	topHealthy int
	topKnown   bool
}

type decisionKind uint8

const (
	decNone decisionKind = iota
	decFrozen
	decTakeover
	decNoOwner
	decSticky
	decStillFirst
	decDegraded
	decNotStable
	decNotReady
	decBothHold
	decFailback
)

func (d decision) String() string {
	list := joinCandidates(d.list)
	switch d.kind {
	case decNone:
		return "no node can hold it"
	case decFrozen:
		return fmt.Sprintf("%s holds it in maintenance", d.winner)
	case decTakeover:
		return fmt.Sprintf("takeover requested on %s (%s)", d.winner, list)
	case decNoOwner:
		return fmt.Sprintf("no owner, %s ranks first (%s)", d.winner, list)
	case decSticky:
		return fmt.Sprintf("%s holds it (auto_failback off; %s)", d.winner, list)
	case decStillFirst:
		return fmt.Sprintf("%s holds it and ranks first (%s)", d.winner, list)
	case decDegraded:
		return fmt.Sprintf("owner %s priority %d below its base %d, %s ranks first (%s)", d.owner.name, d.owner.prio, d.base, d.winner, list)
	case decNotStable:
		return fmt.Sprintf("%s holds it, %s not stable for %v yet (%s)", d.winner, d.top.name, d.hold, list)
	case decNotReady:
		if d.top.name == d.self {
			return fmt.Sprintf("failback waiting: %s; %s holds it (%s)", d.gate, d.winner, list)
		}
		if d.topKnown {
			return fmt.Sprintf("%s holds it, %s stable but not ready to take it back (%d %s healthy there, its status says why; %s)", d.winner, d.top.name, d.topHealthy, reals(d.topHealthy), list)
		}
		return fmt.Sprintf("%s holds it, %s stable but not ready to take it back (its status says why; %s)", d.winner, d.top.name, list)
	case decBothHold:
		return fmt.Sprintf("%s and %s both hold it, %s ranks first (%s)", d.winner, d.owner.name, d.winner, list)
	default:
		s := fmt.Sprintf("auto_failback: %s stable for %v outranks owner %s (%s)", d.winner, d.hold, d.owner.name, list)
		switch {
		case d.gated && d.winner == d.self:
			s += fmt.Sprintf("; ready: %s", d.gate)
		case d.gated:
			s += fmt.Sprintf("; %s ready", d.winner)
		}
		return s
	}
}

// desired picks the node that should hold g. It is a pure function of the
// candidates: every node that sees the same heartbeats picks the same node.
func (m *Machine) desired(g *group) decision {
	cs := m.candidates(g)
	d := decision{list: cs, hold: m.cfg.FailbackHold, self: m.cfg.Self}
	if len(cs) == 0 {
		return d
	}
	for _, c := range cs {
		if c.frozen {
			d.kind, d.winner = decFrozen, c.name
			return d
		}
	}
	d.top, _ = best(cs)
	var owned bool
	for _, c := range cs {
		if c.state.Owns() && (!owned || c.outranks(d.owner)) {
			d.owner, owned = c, true
		}
	}
	win := func(k decisionKind, c candidate) decision {
		d.kind, d.winner = k, c.name
		return d
	}
	if d.top.prio == PriorityTakeover {
		return win(decTakeover, d.top)
	}
	if !owned {
		return win(decNoOwner, d.top)
	}
	o := d.owner
	if !g.failback {
		d.base = basePriority(&g.cfg, o.name)
		switch {
		case o.prio >= d.base:
			return win(decSticky, o)
		case d.top.name == o.name:
			return win(decStillFirst, o)
		}
		return win(decDegraded, d.top)
	}
	var e candidate
	found := false
	for _, c := range cs {
		if (c.state.Owns() || c.stable && m.readyToTake(g, c, o)) && (!found || c.outranks(e)) {
			e, found = c, true
		}
	}
	d.gated = g.cfg.FailbackGate && o.prio >= basePriority(&g.cfg, o.name)
	if d.gated && (e.name == m.cfg.Self || d.top.name == m.cfg.Self) && !g.state.Owns() {
		d.gate = m.gateHere(g, o.name)
	}
	switch {
	case e.name == o.name && d.top.name != o.name && d.top.stable:
		if p := m.peers[d.top.name]; p != nil {
			pg := p.groups[g.cfg.Name]
			d.topHealthy, d.topKnown = pg.healthy, pg.healthyKnown
		}
		return win(decNotReady, o)
	case e.name == o.name && d.top.name != o.name:
		return win(decNotStable, o)
	case e.name == o.name:
		return win(decStillFirst, o)
	case e.state.Owns():
		return win(decBothHold, e)
	}
	return win(decFailback, e)
}

func joinCandidates(cs []candidate) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, " ")
}

// claims reports whether node holds g as this node sees it.
func (m *Machine) claims(node string, g *group) bool { return m.inState(node, g, State.Owns) }

// holds reports whether node has started g's resources (Master) as this
// node sees it.
func (m *Machine) holds(node string, g *group) bool {
	return m.inState(node, g, func(s State) bool { return s == StateMaster })
}

func (m *Machine) inState(node string, g *group, is func(State) bool) bool {
	if node == m.cfg.Self {
		return is(g.state)
	}
	p := m.peers[node]
	return p != nil && p.alive && is(p.groups[g.cfg.Name].state)
}

// allPeersHeard reports whether every peer has been heard fresh, and
// names those that have not. Not fresh: the peer's latest heartbeat says
// it last heard an earlier run of ours (an older generation), so it may
// have been sent before we started, queued in the kernel or on a link
// while we were down (seen in the e2e lab after an unplug): it can say a
// group is not held that the peer holds now, and acting on it took the
// group without the failback hold. The peer's answer to our first
// heartbeat hears this run. A peer that never heard us (generation 0, a
// cold start of both) or says nothing of us counts once heard.
func (m *Machine) allPeersHeard() (bool, string) {
	var missing []string
	for _, n := range m.peerNames {
		p := m.peers[n]
		switch {
		case !p.heard:
			missing = append(missing, n)
		case p.report != nil && p.report.Generation != m.cfg.Generation:
			// Generation 0 (it never heard us) is no proof of freshness
			// either: a peer that restarted while we were down sends 0,
			// and its heartbeats from before it held the group can sit in
			// its ARP queue for us until we are back (CI: a restarted
			// lb1 took a group lb2 held as unowned). Its next heartbeat
			// hears us; initdead bounds the wait when it never does.
			missing = append(missing, n+" (a heartbeat sent since our start)")
		}
	}
	return len(missing) == 0, strings.Join(missing, ",")
}

// evaluate moves g toward its desired owner.
func (m *Machine) evaluate(g *group) {
	g.waiting = ""
	if m.maint {
		g.waiting = "maintenance: frozen"
		if !m.heldByAnyone(g) {
			g.waiting += fmt.Sprintf("; %s has no holder: \"hactl maintenance off\" takes it", g.cfg.Name)
		}
		return
	}
	if m.leaving {
		m.leaveHandover(g)
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
	m.liftFailedStandby(g)
	if m.iso {
		g.waiting = m.isoWhy
		if g.state == StateMaster {
			m.stop(g, m.isoWhy)
		}
		return
	}
	if g.state == StateStandby && !m.initdeadOver {
		if ok, missing := m.allPeersHeard(); !ok {
			g.waiting = fmt.Sprintf("initdead: waiting up to %v for %s", m.cfg.Initdead, missing)
			return
		}
	}
	if why := m.rejoining(); g.state == StateStandby && why != "" {
		g.waiting = why
		return
	}
	dec := m.desired(g)
	d := dec.winner
	m.noteGateWait(g, dec)
	switch g.state {
	case StateStandby:
		if d == m.cfg.Self {
			why := dec.String()
			m.setState(g, StateStarting, "taking over: "+why)
			m.out = append(m.out, Action{Kind: ActionStart, Group: g.cfg.Name, Reason: why})
			for _, n := range m.peerNames {
				if m.holds(n, g) {
					g.handovers[n] = true // it releases once it sees us claim the group
				}
			}
		}
	case StateMaster:
		if d == m.cfg.Self || d == "" || !m.claims(d, g) {
			g.releaseAt = time.Time{}
			return
		}
		if g.cfg.MakeBeforeBreak && !m.holds(d, g) {
			g.releaseAt = time.Time{}
			g.waiting = fmt.Sprintf("make-before-break: keeping %s until %s holds it (its resources are starting)", g.cfg.Name, d)
			return
		}
		if g.cfg.MakeBeforeBreak {
			overlap := cmp.Or(g.cfg.HandoverOverlap, DefaultHandoverOverlap)
			if g.releaseAt.IsZero() {
				g.releaseAt = m.now.Add(overlap)
			}
			if m.now.Before(g.releaseAt) {
				g.waiting = fmt.Sprintf("make-before-break: %s holds %s; keeping it for a %v overlap while its routes reach the routers", d, g.cfg.Name, overlap)
				return
			}
			g.releaseAt = time.Time{}
		}
		reason := fmt.Sprintf("releasing to %s: %s", d, dec)
		if why := m.deafFor(g); why != "" {
			reason = fmt.Sprintf("releasing to %s: one-way loss, %s", d, why)
		}
		m.setState(g, StateStopping, reason)
		m.out = append(m.out, Action{Kind: ActionStop, Group: g.cfg.Name, Reason: reason})
	}
}

// watchRivals spots split brain: a peer holding a group we hold (both
// master), or releasing it (it lost). The winner announces when it first sees
// the rival master and again when the rival starts releasing, so switches and
// clients that followed the rival's gratuitous ARP come back even if the
// rival refreshed them meanwhile; the loser is released by evaluate. A peer
// merely starting is a handover in progress, not a rival.
//
// The heartbeat that shows the rival releasing can be lost, or overtaken by
// the next one (ha/link then drops it as older), and the rival can release
// before any heartbeat of it as master reaches us after a partition. So the
// winner also announces when a rival it saw master is next seen not holding
// the group, and when a peer it had declared dead is heard again (same
// generation: it was cut off, not restarted) neither holding nor starting
// the group: cut off from us, it may have taken the group and announced it.
// (A peer that starts it takes it over from us: announcing then would only
// pull clients back for a moment.)
func (m *Machine) watchRivals(g *group) {
	for _, n := range m.peerNames {
		p := m.peers[n]
		st := p.groups[g.cfg.Name].state
		m.trackHandover(g, n, p.alive, st)
		held := g.state == StateMaster && p.alive && (st == StateMaster || st == StateStopping)
		prev, seen := g.rivals[n]
		if !held && g.state == StateMaster && p.alive && !p.notHearingUs() && (p.back && !st.Owns() || seen && prev == StateMaster) {
			why := fmt.Sprintf("%s released %s to us: re-announcing", n, g.cfg.Name)
			if !seen {
				why = fmt.Sprintf("%s heard again after we declared it dead; it may have held %s meanwhile: re-announcing", n, g.cfg.Name)
			}
			m.out = append(m.out, Action{Kind: ActionAnnounce, Group: g.cfg.Name, Reason: why})
		}
		if !held {
			if seen {
				delete(g.rivals, n)
				switch {
				case g.splits[n] && p.alive:
					// Both still hear each other and only one holds the
					// group: the split brain is over (a counter in metrics).
					how := n + " no longer holds it"
					if g.state != StateMaster {
						how = "we released it"
					}
					m.logTopic(LevelInfo, n, "split-brain-resolved", fmt.Sprintf("split brain with %s over %s resolved: %s", n, g.cfg.Name, how))
				case g.state == StateMaster:
					m.log(LevelInfo, n, fmt.Sprintf("%s no longer holds %s", n, g.cfg.Name))
				}
				delete(g.splits, n)
			}
			continue
		}
		g.rivals[n] = st
		if st == StateMaster && prev == StateMaster && m.handoverOverdue(g, n) {
			// It never let go: not a handover after all.
			delete(g.handovers, n)
			prev = StateUnknown
		}
		if st == prev {
			continue
		}
		why := fmt.Sprintf("%s released %s to us: re-announcing", n, g.cfg.Name)
		if st == StateMaster && m.handingOver(g, n) {
			how := "a planned handover"
			if g.cfg.MakeBeforeBreak {
				how = "a make-before-break handover"
			}
			m.log(LevelInfo, n, fmt.Sprintf("%s holds %s too: %s, the lower ranked of us releases it", n, g.cfg.Name, how))
			continue
		}
		if st == StateMaster {
			m.logTopic(LevelWarn, n, "split-brain", fmt.Sprintf("split brain: %s also holds %s", n, g.cfg.Name))
			g.splits[n] = true
			if m.desired(g).winner != m.cfg.Self || p.notHearingUs() {
				continue // a rival that does not hear us keeps the group: announcing only pulls clients back and forth
			}
			why = fmt.Sprintf("split brain with %s, we keep %s: re-announcing", n, g.cfg.Name)
		}
		m.out = append(m.out, Action{Kind: ActionAnnounce, Group: g.cfg.Name, Reason: why})
	}
}

// trackHandover keeps g.handovers: both holding g until the lower ranked
// releases is a handover, not a split brain, when we started it while the
// peer held it (evaluate marks it: the peer, deciding as we did, releases
// once it hears us claim it), or, for a MakeBeforeBreak group, when the
// peer was seen starting it while we held it (we keep it until the peer
// holds it). It stays one while the peer starts, holds or releases g and
// we hold it. A real dual master is two nodes that each took g while the
// other was dead to them, or one taking it from a rival that does not
// hear it (one-way loss): neither is marked.
func (m *Machine) trackHandover(g *group, n string, alive bool, st State) {
	switch {
	case alive && g.state == StateMaster && st == StateStarting:
		if g.cfg.MakeBeforeBreak {
			g.handovers[n] = true
		}
	case !alive || !g.state.Owns() || !st.Owns() && st != StateStopping:
		delete(g.handovers, n)
	}
}

// noteGateWait logs once when this node's failback of g starts waiting for
// readiness, and once when the wait ends without a takeover (the takeover
// itself says why it happened).
func (m *Machine) noteGateWait(g *group, dec decision) {
	waits := dec.kind == decNotReady && dec.top.name == m.cfg.Self
	if waits == g.gateWait {
		return
	}
	g.gateWait = waits
	switch {
	case waits:
		m.log(LevelInfo, "", fmt.Sprintf("auto_failback of %s waits for readiness: %s", g.cfg.Name, dec.gate))
	case dec.winner != m.cfg.Self:
		m.log(LevelInfo, "", fmt.Sprintf("auto_failback of %s no longer waits for readiness: %s", g.cfg.Name, dec))
	}
}

// handingOver reports whether peer n holding g while we hold it is a
// planned handover: one tracked by trackHandover, or the peer taking g
// after a standby here announced its release (our "starting" may not
// have reached it, or its heartbeat saying so was lost).
func (m *Machine) handingOver(g *group, n string) bool {
	if g.handovers[n] {
		return true
	}
	return g.standbyPin && !g.standbyAt.IsZero() && !g.since.After(g.standbyAt) && m.desired(g).winner == n
}

// handoverOverdue reports whether a handover between us and peer n, both
// holding g, has lasted too long to be one: a MakeBeforeBreak group
// overlaps on purpose (evaluate bounds it), any other old owner releases
// as soon as it hears its successor claim the group, so one still holding
// it a deadtime after we took it is a dual master.
func (m *Machine) handoverOverdue(g *group, n string) bool {
	return g.handovers[n] && !g.cfg.MakeBeforeBreak && g.state == StateMaster && m.now.Sub(g.since) >= m.cfg.Deadtime
}
