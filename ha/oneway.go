package ha

import (
	"fmt"
	"time"
)

// One-way loss: when this node's heartbeats stop reaching a peer while the
// peer's still reach us (a firewall dropping our outgoing packets, a
// half-broken switch port), the peer declares us dead and takes our groups,
// and we, hearing it fine, would keep them too: two owners for as long as
// the loss lasts. Heartbeats therefore carry what each node hears of the
// others (Message.Hears, wire version 2), like BFD's echo of the remote
// state (RFC 5880, section 6.8.6).
//
// A live peer that reports it does not count us alive is "deaf to us". It
// decides without us, so for every group it can hold (it advertises a
// priority above 0) we step aside: priority 0, acquire nothing, and release
// what we hold once the peer claims it, exactly as it expects. That leaves
// one owner, the one the deaf peer picked, for as long as the loss lasts.
// When the peer hears us again our priority comes back and the ownership
// rules apply as usual (with auto_failback off the peer keeps the group).
//
// A node sends a heartbeat as soon as it declares a peer dead (expirePeers),
// so the first report that it does not hear us leaves at once, not at its
// next regular heartbeat up to a keepalive later.
//
// The peer must say so for at least three quarters of its keepalive (two
// of its regular heartbeats, not one burst): a peer that merely missed us
// for a moment (a scheduling stall, a burst of loss) declares us dead,
// starts, hears us again and releases at once, and if we had stepped aside
// on its first report both of us would have released. Likewise, while a
// peer that holds our group reports it does not hear us, we do not
// re-announce on seeing it (our announcement would only pull clients back
// to us, until we step aside); we still re-announce if it releases to us.
//
// A peer whose heartbeats carry no heard list (wire version 1) is never
// judged deaf; nor is one in maintenance (frozen, it takes nothing). A peer
// we have heard for less than deadtime is not judged either: after a
// restart or a healed partition it needs a round trip to hear us, and
// judging it sooner would hand it our groups on a race instead of by rank.

// onHears records what p's latest heartbeat says it hears of us.
func (m *Machine) onHears(p *peer, hears []Hearing) {
	p.report, p.reportAt = nil, m.now
	for i := range hears {
		if hears[i].Node == m.cfg.Self {
			h := hears[i]
			p.report = &h
			break
		}
	}
	switch {
	case !p.notHearingUs():
		p.deafSince = time.Time{}
	case p.deafSince.IsZero():
		p.deafSince = m.now
	}
}

// notHearingUs reports whether p's latest heartbeat said it does not count
// us alive.
func (p *peer) notHearingUs() bool { return p.report != nil && !p.report.Alive }

// updateDeafness recomputes which live peers do not hear us and says when
// that changes.
func (m *Machine) updateDeafness() {
	for _, n := range m.peerNames {
		p := m.peers[n]
		why := m.deafWhy(p)
		switch {
		case why != "" && p.deaf == "":
			m.dirty = true
			m.logTopic(LevelWarn, n, "one-way", fmt.Sprintf("one-way loss: %s, yet we hear it: priority 0 for every group it can hold", why))
		case why == "" && p.deaf != "":
			m.dirty = true
			m.logTopic(LevelInfo, n, "one-way", fmt.Sprintf("%s hears us again", n))
		}
		p.deaf = why
	}
}

// deafWhy says how long live peer p has not heard us ("" if it hears us or
// cannot say).
func (m *Machine) deafWhy(p *peer) string {
	r := p.report
	if !p.alive || p.maint || !p.notHearingUs() || m.leaving || m.now.Sub(p.aliveSince) < m.cfg.Deadtime {
		return ""
	}
	ka := p.keepalive
	if ka <= 0 {
		ka = m.cfg.Keepalive
	}
	if p.reportAt.Sub(p.deafSince) < ka*3/4 {
		return "" // one report, or one burst of them: wait for the next regular heartbeat
	}
	if r.Generation == m.cfg.Generation {
		silent := (r.Age + m.now.Sub(p.reportAt)).Round(time.Millisecond)
		return fmt.Sprintf("%s has not heard us for %v on any link", p.name, silent)
	}
	up := m.now.Sub(m.startAt).Round(time.Millisecond)
	return fmt.Sprintf("%s has not heard us since we started %v ago on any link", p.name, up)
}

// deafFor returns why some live peer that can hold g does not hear us, so
// we must not hold g ("" if none).
func (m *Machine) deafFor(g *group) string {
	for _, n := range m.peerNames {
		p := m.peers[n]
		if p.deaf != "" && p.groups[g.cfg.Name].prio > 0 {
			return p.deaf
		}
	}
	return ""
}

// hearing is what this node hears of every peer, for its heartbeats.
func (m *Machine) hearing() []Hearing {
	hs := make([]Hearing, 0, len(m.peerNames))
	for _, n := range m.peerNames {
		p := m.peers[n]
		h := Hearing{Node: n, Alive: p.alive}
		if p.heard {
			h.Generation, h.Age = p.gen, m.now.Sub(p.lastHeard)
		}
		hs = append(hs, h)
	}
	return hs
}
