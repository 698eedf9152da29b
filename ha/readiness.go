package ha

import "fmt"

// readiness is what the caller last said of a gated group's balancer on
// this node (EventReadiness).
type readiness struct {
	reported bool
	healthy  int
	synced   bool   // persistence table caught up with the owner's
	behind   string // what the table lacks, while not synced
}

// gate is whether this node may take a gated group back from its owner
// under auto_failback, with what explains it. It is computed on every
// event while a failback is pending, and formatted only when shown.
type gate struct {
	ok         bool
	unreported bool
	healthy    int
	need       int
	min        bool   // need is the configured FailbackMinHealthy
	owner      string // the owner whose count is compared
	ownerHas   int
	ownerSays  bool // the owner advertised its count
	behind     string
}

func (gt gate) String() string {
	if gt.unreported {
		return "balancer health not reported yet"
	}
	var s string
	switch {
	case gt.healthy < gt.need:
		s = fmt.Sprintf("%d of %d %s healthy here", gt.healthy, gt.need, reals(gt.need))
	default:
		s = fmt.Sprintf("%d %s healthy here", gt.healthy, reals(gt.healthy))
	}
	switch {
	case gt.min && gt.ownerSays:
		s += fmt.Sprintf(" (failback_min_healthy %d; owner %s has %d)", gt.need, gt.owner, gt.ownerHas)
	case gt.min:
		s += fmt.Sprintf(" (failback_min_healthy %d)", gt.need)
	case gt.ownerSays:
		s += fmt.Sprintf(" (owner %s has %d)", gt.owner, gt.ownerHas)
	default:
		s += fmt.Sprintf(" (owner %s does not say its count: wanting 1)", gt.owner)
	}
	if gt.behind != "" {
		s += "; persistence table not caught up: " + gt.behind
	}
	return s
}

// onReadiness records what the caller says of a group's balancer here.
func (m *Machine) onReadiness(name string, healthy int, synced bool, behind string) {
	g := m.byName[name]
	if g == nil {
		m.log(LevelWarn, "", fmt.Sprintf("ignoring readiness of unknown group %q", name))
		return
	}
	if synced {
		behind = ""
	} else if behind == "" {
		behind = "no reason given"
	}
	g.ready = readiness{reported: true, healthy: max(healthy, 0), synced: synced, behind: behind}
}

// gateHere computes whether this node is ready to take g back from owner
// (a peer holding it): enough healthy reals here (FailbackMinHealthy, or
// by default as many as the owner advertises; 1 if it advertises none)
// and the persistence table caught up.
func (m *Machine) gateHere(g *group, owner string) gate {
	r := g.ready
	gt := gate{unreported: !r.reported, healthy: r.healthy, owner: owner, behind: r.behind}
	if p := m.peers[owner]; p != nil {
		if pg, ok := p.groups[g.cfg.Name]; ok && pg.healthyKnown {
			gt.ownerSays, gt.ownerHas = true, pg.healthy
		}
	}
	switch {
	case g.cfg.FailbackMinHealthy > 0:
		gt.need, gt.min = g.cfg.FailbackMinHealthy, true
	case gt.ownerSays:
		gt.need = gt.ownerHas
	default:
		gt.need = 1
	}
	gt.ok = r.reported && r.synced && r.healthy >= gt.need
	return gt
}

// readyToTake reports whether candidate c may take g from owner o under
// auto_failback. Only a failback from an owner at or above its base
// priority waits for readiness: an owner degraded by failed checks is
// left by a failover as before, ready or not.
func (m *Machine) readyToTake(g *group, c, o candidate) bool {
	if !g.cfg.FailbackGate || o.prio < basePriority(&g.cfg, o.name) {
		return true
	}
	if c.name == m.cfg.Self {
		return m.gateHere(g, o.name).ok
	}
	for _, n := range m.peerNames {
		if n == c.name {
			return !m.peers[n].groups[g.cfg.Name].notReady
		}
	}
	return true
}

// advertised is what this node says of g's readiness in its heartbeats:
// its healthy count once reported, and whether it is not ready to take g
// from a peer that holds it. One rule for every planned move to it: a
// failback waits for it here (readyToTake), and the owner's standby waits
// for it there (standbyBlock), whether or not auto_failback is on.
func (m *Machine) advertised(g *group) (healthy int, known, notReady bool) {
	if !g.cfg.FailbackGate || !g.ready.reported {
		return 0, false, g.cfg.FailbackGate && !g.state.Owns()
	}
	if !g.state.Owns() {
		if owner := m.Owner(g.cfg.Name); owner != "" && owner != m.cfg.Self {
			notReady = !m.gateHere(g, owner).ok
		}
	}
	return g.ready.healthy, true, notReady
}

// trackReadiness sends at once when what this node advertises of g's
// readiness changed, so a waiting peer learns the owner's count, and
// everyone learns this node's wait, within one message.
func (m *Machine) trackReadiness(g *group) {
	if !g.cfg.FailbackGate {
		return
	}
	h, known, nr := m.advertised(g)
	if h != g.advHealthy || known != g.advKnown || nr != g.advNotReady {
		g.advHealthy, g.advKnown, g.advNotReady = h, known, nr
		m.dirty = true
	}
}

func reals(n int) string {
	if n == 1 {
		return "real"
	}
	return "reals"
}
