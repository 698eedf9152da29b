package ha

import (
	"cmp"
	"fmt"
	"time"
)

// pick returns the groups a command names: all of them for "".
func (m *Machine) pick(verb, name string) []*group {
	if name == "" {
		return m.groups
	}
	if g := m.byName[name]; g != nil {
		return []*group{g}
	}
	m.refuse(fmt.Sprintf("%s refused: unknown group %q", verb, name))
	return nil
}

// TopicRefused tags the ActionLog of an operator command the machine
// refused (its Reason says why), so the shell can answer the operator
// with it instead of a success (hactl exits non-zero).
const TopicRefused = "refused"

func (m *Machine) refuse(reason string) { m.logTopic(LevelWarn, "", TopicRefused, reason) }

func (m *Machine) refuseInMaintenance(verb string) bool {
	switch {
	case m.leaving:
		m.refuse(fmt.Sprintf("%s refused: node is leaving", verb))
	case m.maint:
		m.refuse(fmt.Sprintf("%s refused: node is in maintenance (resources frozen)", verb))
	}
	return m.maint || m.leaving
}

func (m *Machine) onTakeover(name string) {
	if m.refuseInMaintenance("takeover") {
		return
	}
	for _, g := range m.pick("takeover", name) {
		// A peer in maintenance keeps what it holds: a pin here would wait
		// for it and move the group whenever its maintenance ends, long
		// after the operator was told the takeover failed.
		if why := m.frozenBlock(g, false); why != "" && !g.state.Owns() {
			m.refuse(fmt.Sprintf("takeover of %s refused: %s", g.cfg.Name, why))
			continue
		}
		g.takeoverPin, g.standbyPin = true, false
		if g.state == StateFailed {
			g.retryAt = m.now // the operator overrides the failure backoff
		}
		m.dirty = true
		if m.iso {
			m.log(LevelWarn, "", fmt.Sprintf("takeover of %s requested, but waits: %s", g.cfg.Name, m.isoWhy))
			continue
		}
		m.log(LevelInfo, "", fmt.Sprintf("takeover of %s requested: advertising priority %d", g.cfg.Name, PriorityTakeover))
	}
}

func (m *Machine) onStandby(name string) {
	if m.refuseInMaintenance("standby") {
		return
	}
	for _, g := range m.pick("standby", name) {
		if why, wait := m.standbyBlock(g); why != "" {
			m.refuse(StandbyBlock{Group: g.cfg.Name, Why: why, Wait: wait}.Error())
			continue
		}
		if g.state.Owns() && !g.standbyPin {
			g.standbyAt = m.now
		}
		g.standbyPin, g.takeoverPin = true, false
		m.dirty = true
		m.log(LevelInfo, "", fmt.Sprintf("standby of %s requested: advertising priority %d until a takeover here", g.cfg.Name, PriorityStandby))
	}
}

func (m *Machine) someoneElseCanHold(g *group) string {
	for _, n := range m.peerNames {
		p := m.peers[n]
		if pg, ok := p.groups[g.cfg.Name]; ok && p.alive && !p.maint && pg.prio > 0 {
			return n
		}
	}
	return ""
}

// onResetPeer forgets name's generation (an operator decision, logged): its
// next heartbeat is accepted as a restart whatever its generation.
func (m *Machine) onResetPeer(name string) {
	p := m.peers[name]
	if p == nil {
		m.refuse(fmt.Sprintf("peer reset refused: %q is not a peer of this node", name))
		return
	}
	m.log(LevelWarn, name, fmt.Sprintf("operator reset the replay state of peer %s (was generation %d): its next heartbeat is accepted whatever its generation", name, p.gen))
	p.gen, p.heard = 0, false
}

func (m *Machine) onMaintenance(on bool) {
	if m.leaving {
		m.refuse("maintenance refused: node is leaving")
		return
	}
	if m.maint == on {
		return
	}
	m.maint, m.dirty = on, true
	if on {
		m.log(LevelInfo, "", "maintenance on: not reacting to peers or checks, resources left as they are")
	} else {
		m.log(LevelInfo, "", "maintenance off: reacting to peers and checks again")
	}
}

func (m *Machine) onLeave() {
	if m.leaving {
		return
	}
	if m.maint {
		m.log(LevelInfo, "", "leaving in maintenance: resources left as they are, peers not told")
		m.leaving = true
		return
	}
	m.leaving, m.dirty = true, true
	m.log(LevelInfo, "", "leaving: telling peers (priority 0) and stopping every group")
	// Send first so peers start while we stop.
	m.maybeSend()
	for _, g := range m.groups {
		switch {
		case g.state != StateMaster:
		case g.cfg.MakeBeforeBreak && m.someoneElseCanHold(g) != "":
			// Kept until a successor holds it (leaveHandover), as in a
			// failback: the routers never lose every next hop.
			g.leaveBy = m.now.Add(LeaveHandoverWait)
			m.leaveHandover(g)
		default:
			if m.someoneElseCanHold(g) == "" {
				m.orphanedLeaving(g)
			}
			m.stop(g, "node leaving")
		}
	}
}

// leaveHandover releases a MakeBeforeBreak group a leaving node kept
// (onLeave) once a peer holds it (Master) and HandoverOverlap has passed,
// at once when no live peer can hold it any more, and at leaveBy at the
// latest; meanwhile its status says what it waits for.
func (m *Machine) leaveHandover(g *group) {
	if g.leaveBy.IsZero() {
		return
	}
	if g.state != StateMaster {
		g.leaveBy, g.releaseAt = time.Time{}, time.Time{}
		return
	}
	var successor string
	for _, n := range m.peerNames {
		if m.holds(n, g) {
			successor = n
			break
		}
	}
	overlap := cmp.Or(g.cfg.HandoverOverlap, DefaultHandoverOverlap)
	switch {
	case successor != "":
		if g.releaseAt.IsZero() {
			g.releaseAt = m.now.Add(overlap)
		}
		if m.now.Before(g.releaseAt) {
			g.waiting = fmt.Sprintf("leaving, make-before-break: %s holds %s; keeping it for a %v overlap while its routes reach the routers", successor, g.cfg.Name, overlap)
			return
		}
		g.leaveBy, g.releaseAt = time.Time{}, time.Time{}
		m.stop(g, fmt.Sprintf("node leaving: %s holds it (make-before-break)", successor))
	case m.someoneElseCanHold(g) == "":
		g.leaveBy, g.releaseAt = time.Time{}, time.Time{}
		m.orphanedLeaving(g)
		m.stop(g, "node leaving: no live peer can hold it any more")
	case !m.now.Before(g.leaveBy):
		g.leaveBy, g.releaseAt = time.Time{}, time.Time{}
		m.stop(g, fmt.Sprintf("node leaving: no peer held it within %v (make-before-break gave up)", LeaveHandoverWait))
	default:
		g.releaseAt = time.Time{}
		g.waiting = fmt.Sprintf("leaving, make-before-break: keeping %s until a peer holds it (%v at most)", g.cfg.Name, LeaveHandoverWait)
	}
}

func (m *Machine) stop(g *group, reason string) {
	m.setState(g, StateStopping, reason)
	m.out = append(m.out, Action{Kind: ActionStop, Group: g.cfg.Name, Reason: reason})
}

func (m *Machine) onCheck(name string, ok bool, reason string) {
	c := m.checks[name]
	if c == nil {
		m.log(LevelWarn, "", fmt.Sprintf("result for unknown check %q ignored", name))
		return
	}
	if c.failed == !ok {
		return
	}
	c.failed, c.reason = !ok, reason
	sign := 1
	if ok {
		sign = -1
	}
	m.penalty += sign * int(c.weight)
	if c.ping {
		m.pingsFailed += sign
	}
	if ok {
		m.log(LevelInfo, "", fmt.Sprintf("check %s ok again: priority +%d", name, c.weight))
	} else {
		m.log(LevelWarn, "", fmt.Sprintf("check %s failed (%s): priority -%d", name, reason, c.weight))
	}
}

func (m *Machine) onStarted(name string, ok bool, reason string) {
	g := m.byName[name]
	if g == nil || g.state != StateStarting {
		return // a result for a start we no longer wait for
	}
	if ok {
		g.failures = 0
		m.setState(g, StateMaster, "resources started")
		if m.leaving {
			m.stop(g, "node leaving")
		}
		return
	}
	m.fail(g, "start failed: "+reason)
}

func (m *Machine) onStopped(name string, ok bool, reason string) {
	g := m.byName[name]
	if g == nil || g.state != StateStopping {
		return
	}
	failing := g.failing
	g.failing = ""
	switch {
	case !ok:
		m.fail(g, "stop failed: "+reason)
	case failing != "":
		m.fail(g, "resource failed: "+failing)
	default:
		m.setState(g, StateStandby, "resources stopped")
	}
}

// onFailed handles a resource of a held group failing at run time (the
// owner watches what it holds): the group is stopped here and then given up
// as after a failed start, priority 0 with a backoff, so a peer that can
// serve takes it. A failure while the group is not held is only logged.
func (m *Machine) onFailed(name, reason string) {
	g := m.byName[name]
	if g == nil {
		m.log(LevelWarn, "", fmt.Sprintf("failure of unknown group %q ignored: %s", name, reason))
		return
	}
	switch g.state {
	case StateMaster:
		g.failing = reason
		m.stop(g, "resource failed: "+reason)
	case StateStopping:
		g.failing = reason
	default:
		m.log(LevelInfo, "", fmt.Sprintf("group %s not held here (%s); resource failure noted: %s", name, g.state, reason))
	}
}

// fail gives g up here: priority 0 so a peer takes it, and no retry before
// a backoff that doubles with every consecutive failure (up to 16×), so a
// broken resource does not flap the group between nodes.
func (m *Machine) fail(g *group, reason string) {
	g.failures++
	backoff := m.cfg.FailBackoff << min(g.failures-1, 4)
	g.retryAt = m.now.Add(backoff)
	g.takeoverPin = false
	m.setState(g, StateFailed, fmt.Sprintf("%s; priority 0, no retry for %v", reason, backoff))
}

// Status is a snapshot for `hactl status`.
type Status struct {
	Node        string
	Generation  uint64
	Started     time.Time
	Maintenance bool
	Leaving     bool
	Initdead    bool   // still waiting for unheard peers
	Isolated    string // why this node holds nothing: no peer and no ping node ("" = not isolated)
	Groups      []GroupStatus
	Peers       []PeerStatus
	Checks      []CheckStatus
}

// GroupStatus is one group as this node sees it.
type GroupStatus struct {
	Name  string
	State State  // this node's state
	Owner string // who holds it as far as we know ("" = nobody)
	// OwnerHolds says Owner has started the group (Master), not only
	// claimed it (Starting).
	OwnerHolds bool
	Priority   uint8     // what we advertise
	Reason     string    // why we are in State
	Waiting    string    // why we are not moving, if anything
	Since      time.Time // when we entered State
	Failures   int       // consecutive resource failures here
	RetryAt    time.Time // Failed: when we may hold it again
}

// PeerStatus is one peer as this node sees it.
type PeerStatus struct {
	Name        string
	Alive       bool
	Leaving     bool
	Maintenance bool
	LastHeard   time.Time // zero if never
	AliveSince  time.Time
	Generation  uint64
	Reason      string
	// Deaf says the peer is alive but does not hear us (one-way loss),
	// e.g. "lb2 has not heard us for 1.2s on any link"; "" if it hears us
	// or does not say (a wire version-1 peer).
	Deaf string
}

// CheckStatus is one ping node or track check.
type CheckStatus struct {
	Name   string
	OK     bool // not failed: also true before the first result ("not checked yet")
	Ping   bool // a ping node (counts toward isolation)
	Weight uint8
	Reason string
}

// Status returns a snapshot of the machine.
func (m *Machine) Status() Status {
	st := Status{Node: m.cfg.Self, Generation: m.cfg.Generation, Started: m.startAt,
		Maintenance: m.maint, Leaving: m.leaving, Isolated: m.isoWhy}
	if ok, _ := m.allPeersHeard(); m.started && !m.initdeadOver && !ok {
		st.Initdead = true
	}
	for _, g := range m.groups {
		gs := GroupStatus{Name: g.cfg.Name, State: g.state, Priority: m.selfPrio(g), Reason: g.reason,
			Waiting: m.waiting(g), Since: g.since, Failures: g.failures}
		if g.state == StateFailed {
			gs.RetryAt = g.retryAt
		}
		gs.Owner = m.Owner(g.cfg.Name)
		gs.OwnerHolds = gs.Owner != "" && m.holds(gs.Owner, g)
		st.Groups = append(st.Groups, gs)
	}
	for _, n := range m.peerNames {
		p := m.peers[n]
		st.Peers = append(st.Peers, PeerStatus{Name: n, Alive: p.alive, Leaving: p.leaving, Maintenance: p.maint,
			LastHeard: p.lastHeard, AliveSince: p.aliveSince, Generation: p.gen, Reason: p.reason, Deaf: m.deafWhy(p)})
	}
	for _, ch := range m.checkList {
		st.Checks = append(st.Checks, CheckStatus{Name: ch.name, OK: !ch.failed, Ping: ch.ping, Weight: ch.weight, Reason: ch.reason})
	}
	return st
}

// State returns this node's state for group (StateUnknown if no such group).
func (m *Machine) State(group string) State {
	if g := m.byName[group]; g != nil {
		return g.state
	}
	return StateUnknown
}

// Owner returns who holds group as this node sees it: this node if it owns
// it, else the first live peer that says it does, else "".
func (m *Machine) Owner(group string) string {
	g := m.byName[group]
	if g == nil {
		return ""
	}
	if g.state.Owns() {
		return m.cfg.Self
	}
	for _, n := range m.peerNames {
		if m.claims(n, g) {
			return n
		}
	}
	return ""
}

// waiting explains why g is not moving, for status.
func (m *Machine) waiting(g *group) string {
	if g.waiting != "" || !m.started || m.leaving {
		return g.waiting
	}
	if why := m.deafFor(g); why != "" && g.state == StateStandby {
		return "standby: one-way loss, " + why
	}
	dec := m.desired(g)
	switch {
	case g.state == StateStandby && dec.winner != m.cfg.Self:
		s := "standby: " + dec.String()
		if owner := m.Owner(g.cfg.Name); g.advNotReady && !g.failback && owner != "" {
			// What the owner's standby to us waits for (auto_failback
			// says it in dec).
			s += "; not ready to take it: " + m.gateHere(g, owner).String()
		}
		return s
	case g.state == StateMaster && dec.kind == decNotReady:
		return "holding: " + dec.String()
	case g.state == StateMaster && dec.winner != m.cfg.Self && dec.winner != "":
		return fmt.Sprintf("holding until %s takes it: %s", dec.winner, dec)
	}
	return ""
}
