package agent

import (
	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/wire"
)

// readinessPayload is the heartbeat payload carrying the groups' failback
// readiness (wire.AppendReadiness), or nil when no group says anything, so
// a pair without gated groups sends the same packets as before.
func readinessPayload(groups []ha.GroupState) []byte {
	says := false
	rs := make([]wire.Readiness, len(groups))
	for i, g := range groups {
		if g.HealthyKnown {
			rs[i].Flags |= wire.ReadyHealthyKnown
			rs[i].Healthy = uint16(min(max(g.Healthy, 0), ha.MaxHealthy))
		}
		if g.NotReady {
			rs[i].Flags |= wire.ReadyNotReady
		}
		says = says || rs[i].Flags != 0
	}
	if !says {
		return nil
	}
	b, err := wire.AppendReadiness(nil, rs)
	if err != nil { // more groups than a packet carries: ha.Config.Validate refuses them
		return nil
	}
	return b
}

// applyReadiness copies the readiness payload of p, if any, into msg's
// groups (in the same order). A malformed payload leaves them saying
// nothing, and the error is returned for the log.
func applyReadiness(msg *ha.Message, p *wire.Packet) error {
	rs, err := wire.ParseReadiness(p.Payload, len(p.Groups))
	if err != nil {
		return err
	}
	for i, r := range rs {
		g := &msg.Groups[i]
		g.HealthyKnown = r.Flags&wire.ReadyHealthyKnown != 0
		if g.HealthyKnown {
			g.Healthy = int(r.Healthy)
		}
		g.NotReady = r.Flags&wire.ReadyNotReady != 0
	}
	return nil
}

// received feeds a heartbeat that passed the transport's checks to the
// machine. A readiness payload that does not decode is logged once per
// peer until one does: the heartbeat still counts, its readiness does not.
func (a *Agent) received(p *wire.Packet) {
	ev := messageEvent(p)
	if err := applyReadiness(ev.Msg, p); err != nil {
		if !a.badReadiness[p.Sender] {
			a.badReadiness[p.Sender] = true
			a.log.Warn("peer's heartbeat readiness dropped: its failback readiness is unknown until it sends a valid one", "peer", p.Sender, "err", err)
		}
	} else {
		delete(a.badReadiness, p.Sender)
	}
	a.step(ev)
}
