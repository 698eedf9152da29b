package ha

import (
	"fmt"
	"time"
)

// StandbyBlock is why `hactl standby` of one group would not hand it to a
// peer now (StandbyBlocked).
type StandbyBlock struct {
	Group string
	Why   string // e.g. "lb2 is not ready to take it: ..."
	// Wait says the block can end by itself soon, so a caller may poll
	// and retry within a bound instead of refusing at once: the peer that
	// would take the group is not ready yet (FailbackGate: the readiness a
	// failback waits for, as that peer advertises it) or not stable for
	// the failback hold yet. Otherwise nothing changes until an operator
	// acts (both nodes in standby, no live peer).
	Wait bool
	// Frozen says no peer will take the group because one that would is
	// in maintenance: the block ends only by an operator's "hactl
	// maintenance off" there. A standby is refused at once; a stop waits
	// a bounded time for it (node.Leave) before leaving the group with no
	// holder.
	Frozen bool
}

// Error is the refusal, as the machine logs it for EventStandby.
func (b StandbyBlock) Error() string { return fmt.Sprintf("standby of %s refused: %s", b.Group, b.Why) }

// StandbyBlocked lists why `hactl standby` of group name ("" = every
// group) would not hand it to a peer now, one entry per group blocked;
// none when it would. Heartbeat's hb_standby always moves the resources:
// a standby that cannot move them is refused (EventStandby) rather than
// left pending, and a caller can ask first, to wait for a peer that is
// getting ready or to refuse before it changes anything (a drain, a SYN
// hold).
//
// A node in maintenance or leaving lists nothing: EventStandby refuses
// those at once itself, and a stop in maintenance must not wait.
func (m *Machine) StandbyBlocked(name string) []StandbyBlock {
	if m.maint || m.leaving {
		return nil
	}
	gs := m.groups
	if name != "" {
		g := m.byName[name]
		if g == nil {
			return []StandbyBlock{{Group: name, Why: "no such group"}}
		}
		gs = []*group{g}
	}
	var out []StandbyBlock
	for _, g := range gs {
		if why, wait := m.standbyBlock(g); why != "" {
			frozen := !wait && m.someoneElseCanHold(g) == "" && m.frozenBlock(g, true) != ""
			out = append(out, StandbyBlock{Group: g.cfg.Name, Why: why, Wait: wait, Frozen: frozen})
		}
	}
	return out
}

// standbyBlock is StandbyBlocked for one group. A group not held here is
// never blocked: the standby pin then only keeps it from coming back.
func (m *Machine) standbyBlock(g *group) (why string, wait bool) {
	if !g.state.Owns() {
		return "", false
	}
	if m.someoneElseCanHold(g) == "" {
		return m.noTakerWhy(g), false
	}
	// Decide as every node will once this node advertises the standby
	// priority: desired is pure, so the outcome is known before anything
	// is sent.
	sp, tp := g.standbyPin, g.takeoverPin
	g.standbyPin, g.takeoverPin = true, false
	dec := m.desired(g)
	g.standbyPin, g.takeoverPin = sp, tp
	w := dec.winner
	switch {
	case w != m.cfg.Self && w != "":
		if p := m.peers[w]; g.cfg.FailbackGate && p != nil && p.groups[g.cfg.Name].notReady {
			return m.notReadyWhy(g, w, p.groups[g.cfg.Name]), true
		}
		return "", false
	case dec.kind == decNotStable || dec.kind == decNotReady:
		return fmt.Sprintf("it would stay here for now: %s", dec), true
	}
	if c, ok := m.bestPeer(dec.list); ok && c.prio <= PriorityStandby {
		state := "in standby itself"
		if len(m.cfg.Checks) > 0 {
			state += " or degraded by failed checks"
		}
		return fmt.Sprintf("%s is %s (it advertises priority %d, as this node would, and %s wins the tie by name): run \"hactl takeover %s\" on %s to move it there",
			c.name, state, c.prio, m.cfg.Self, g.cfg.Name, c.name), false
	}
	return fmt.Sprintf("it would stay here: %s", dec), false
}

// bestPeer is the best ranked candidate other than this node.
func (m *Machine) bestPeer(cs []candidate) (candidate, bool) {
	var b candidate
	found := false
	for _, c := range cs {
		if c.name != m.cfg.Self && (!found || c.outranks(b)) {
			b, found = c, true
		}
	}
	return b, found
}

// notReadyWhy says why peer, which a standby would hand g to, is not
// ready to take it: it advertises NotReady, by the same rule a failback to
// it waits for (gateHere, on its side).
func (m *Machine) notReadyWhy(g *group, peer string, pg peerGroup) string {
	here := "not reported here yet"
	if g.ready.reported {
		here = fmt.Sprintf("%d here", g.ready.healthy)
	}
	remedy := fmt.Sprintf("\"hactl takeover %s\" on %s moves it regardless", g.cfg.Name, peer)
	if !pg.healthyKnown {
		return fmt.Sprintf("%s is not ready to take it: its balancer has not reported its reals yet (%s); %s", peer, here, remedy)
	}
	return fmt.Sprintf("%s is not ready to take it: %d %s healthy there, %s, or its persistence table has not caught up (its status says which); %s",
		peer, pg.healthy, reals(pg.healthy), here, remedy)
}

// liftFailedStandby lifts g's standby pin when the standby it asked for
// did not happen: the pin was set while g was held here (standbyAt), the
// peer it was to move to failed to start it, and no live peer can hold it
// now, so g stays or comes back here. hb_standby is one move, not a lasting
// state; a pin kept would hand g to that peer again after each of its
// failure backoffs (FailBackoff, doubling), moving the group, and cutting
// its clients, every few seconds for as long as the peer cannot start it
// (e2e TestStandbyFailedStartLiftsHold: lb2's script fails; node says
// "standby did not happen"). A pin set while the group was elsewhere only
// keeps it from coming back, and stays.
func (m *Machine) liftFailedStandby(g *group) {
	if !g.standbyPin || g.standbyAt.IsZero() || m.someoneElseCanHold(g) != "" {
		return
	}
	for _, n := range m.peerNames {
		p := m.peers[n]
		if pg, ok := p.groups[g.cfg.Name]; ok && p.alive && pg.state == StateFailed {
			g.standbyPin, g.standbyAt, m.dirty = false, time.Time{}, true
			m.log(LevelWarn, "", fmt.Sprintf("standby of %s did not happen: %s failed to start it and no live peer can hold it; advertising this node's own priority again", g.cfg.Name, n))
			return
		}
	}
}
