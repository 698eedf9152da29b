package ha

import (
	"fmt"
	"strings"
)

// A node in maintenance is frozen (DESIGN.md: it stops reacting to peers
// and checks and keeps its resources as they are): it neither takes a
// group nor gives one up. The moves that need it to are refused at once,
// naming it and the remedy (frozenBlock: one rule for standby and
// takeover), and a group left with no holder because of it is an error on
// both sides (orphanedLeaving, orphanedHere), never a silent outage.

// frozenBlock says why a planned move of g is blocked by a live peer in
// maintenance, "" when none blocks it. take: the move needs a peer to take
// g (standby, a stop); else to release it (takeover: a peer in
// maintenance holds it).
func (m *Machine) frozenBlock(g *group, take bool) string {
	var frozen []string
	for _, n := range m.peerNames {
		p := m.peers[n]
		pg, ok := p.groups[g.cfg.Name]
		if ok && p.alive && p.maint && (take || pg.state.Owns()) {
			frozen = append(frozen, n)
		}
	}
	if len(frozen) == 0 {
		return ""
	}
	who := strings.Join(frozen, " and ")
	is := "is"
	if len(frozen) > 1 {
		is = "are"
	}
	if take {
		return fmt.Sprintf("%s %s in maintenance and will not take it: run \"hactl maintenance off\" on %s first", who, is, who)
	}
	return fmt.Sprintf("%s holds it in maintenance and will not release it: run \"hactl maintenance off\" on %s first", who, who)
}

// noTakerWhy says why no live peer can take g from this node (after
// someoneElseCanHold found none): a peer in maintenance, or none alive.
func (m *Machine) noTakerWhy(g *group) string {
	if why := m.frozenBlock(g, true); why != "" {
		return why
	}
	return "no live peer can hold it"
}

// orphanedLeaving logs, as this node leaves, that g (held here) will have
// no holder: an error when a peer in maintenance could take it but will
// not, a warning when no peer is alive to take it.
func (m *Machine) orphanedLeaving(g *group) {
	if why := m.frozenBlock(g, true); why != "" {
		m.log(LevelError, "", fmt.Sprintf("leaving: %s will have no holder: %s", g.cfg.Name, why))
		return
	}
	m.log(LevelWarn, "", fmt.Sprintf("leaving: %s will have no holder: no live peer can hold it", g.cfg.Name))
}

// orphanedHere logs an error, on a node in maintenance, for each group
// peer p held that now has no holder because p left or died (how): this
// node would take it, but is frozen.
func (m *Machine) orphanedHere(p *peer, held map[string]bool, how string) {
	if !m.maint {
		return
	}
	for _, g := range m.groups {
		if held[g.cfg.Name] && !m.heldByAnyone(g) {
			m.log(LevelError, p.name, fmt.Sprintf("%s has no holder: %s %s while this node is in maintenance; \"hactl maintenance off\" takes it", g.cfg.Name, p.name, how))
		}
	}
}

// heldByAnyone reports whether this node or a live peer holds g (or is
// starting or stopping it).
func (m *Machine) heldByAnyone(g *group) bool {
	if g.state.Owns() {
		return true
	}
	for _, n := range m.peerNames {
		if m.inState(n, g, State.Owns) {
			return true
		}
	}
	return false
}

// ownedBy lists the groups p holds as last heard.
func ownedBy(p *peer) map[string]bool {
	out := map[string]bool{}
	for name, pg := range p.groups {
		if pg.state.Owns() {
			out[name] = true
		}
	}
	return out
}
