package node

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/ha"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// Handle answers one hactl request (a ctl.Handler).
func (n *Node) Handle(ctx context.Context, req ctl.Request) (any, error) {
	switch req.Verb {
	case ctl.VerbStatus:
		return n.Status(), nil
	case ctl.VerbStandby:
		if req.Drain {
			return n.standbyDrained(ctx, req)
		}
		return n.move(ctx, req, standbyReadyWait)
	case ctl.VerbTakeover:
		return n.move(ctx, req, 0)
	case ctl.VerbMaintenance:
		if err := n.agent.Maintenance(ctx, req.On); err != nil {
			return nil, err
		}
		if req.On {
			return "maintenance on: not reacting to peers or checks; resources stay as they are", nil
		}
		return "maintenance off", nil
	case ctl.VerbReload:
		return n.Reload(ctx, req.DryRun)
	case ctl.VerbServices:
		return n.servicesReply()
	case ctl.VerbReal:
		return n.real(req)
	case ctl.VerbPeer:
		return n.peerReset(ctx, req)
	case ctl.VerbDrain:
		return n.drain(ctx, req)
	}
	return nil, fmt.Errorf("unknown verb %q", req.Verb)
}

// move hands group ("" = all) here or to the peer (hb_takeover, hb_standby).
// A standby first waits up to readyWait for the peer to be ready to take
// the groups (awaitStandby), and is refused with the reason when it is not
// or cannot be (the peer in standby itself).
func (n *Node) move(ctx context.Context, req ctl.Request, readyWait time.Duration) (any, error) {
	if req.Group != "" {
		g, err := n.groups.get(req.Group)
		if err != nil {
			return nil, err
		}
		if g.local {
			return nil, fmt.Errorf("group %q is active-active: every healthy node holds it, so there is nothing to move (stopping had, or a failed health gate, withdraws this node)", req.Group)
		}
	}
	move := n.agent.Takeover
	var held map[string]bool // standby: the groups held here, which are to move
	if req.Verb == ctl.VerbStandby {
		held = map[string]bool{}
		for _, g := range n.agent.Status().Groups {
			held[g.Name] = g.State.Owns()
		}
		start := time.Now()
		bs, err := n.awaitStandby(ctx, req.Group, readyWait)
		if err != nil {
			return nil, err
		}
		if len(bs) > 0 {
			return nil, n.refuseStandby(bs, start)
		}
		move = n.agent.Standby
		n.beforeRelease(req.Group)
	}
	if err := move(ctx, req.Group); err != nil {
		return nil, err
	}
	res, err := n.awaitMove(ctx, req.Verb, req.Group, held)
	if req.Verb == ctl.VerbStandby {
		n.endDrains()
	}
	return res, err
}

// moveWait bounds how long a takeover or standby waits for its outcome
// (resources started here, or stopped here); hactl's own timeout is longer.
const moveWait = 20 * time.Second

// awaitMove waits until the groups a takeover or standby named reached
// their outcome: master here (takeover), or, for those of held (the
// groups held here when the standby began), no longer held here and
// started by a peer (a peer that fails to start one gives it back).
// A group that failed meanwhile, or that is still not there at the
// deadline, is an error with its reason, so hactl exits non-zero.
func (n *Node) awaitMove(ctx context.Context, verb, group string, held map[string]bool) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, moveWait)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var pending []string
		for _, g := range n.agent.Status().Groups {
			if group != "" && g.Name != group || verb == ctl.VerbStandby && !held[g.Name] {
				continue
			}
			switch {
			case g.State == ha.StateFailed:
				return nil, fmt.Errorf("%s of %s failed: %s", verb, g.Name, g.Reason)
			case verb == ctl.VerbTakeover && g.State == ha.StateMaster,
				verb == ctl.VerbStandby && g.State == ha.StateStandby && g.OwnerHolds:
			default:
				why := g.State.String()
				if g.Waiting != "" {
					why += ": " + g.Waiting
				}
				pending = append(pending, g.Name+" "+why)
			}
		}
		if len(pending) > 0 && verb == ctl.VerbStandby {
			// The peer that was to take a group can no longer (its start
			// failed, it left): say so now rather than at moveWait, so a
			// SYN hold is lifted at once.
			if bs, err := n.agent.StandbyBlocked(ctx, group); err == nil {
				if bs = slices.DeleteFunc(bs, func(b ha.StandbyBlock) bool { return b.Wait }); len(bs) > 0 {
					return nil, fmt.Errorf("standby did not happen: %s", blocksText(bs))
				}
			}
		}
		if len(pending) == 0 {
			what := "every group"
			if group != "" {
				what = "group " + group
			}
			if verb == ctl.VerbTakeover {
				return fmt.Sprintf("%s: %s held here", verb, what), nil
			}
			return fmt.Sprintf("%s: %s released to the peer", verb, what), nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s not done after %v: %s", verb, moveWait, strings.Join(pending, "; "))
		case <-tick.C:
		}
	}
}

// servicesReply is `hactl services`: the balancer table, like ipvsadm -Ln,
// and the versioned document of `hactl services -o json`.
func (n *Node) servicesReply() (any, error) {
	snap := n.snapshot()
	if snap == nil {
		return map[string]any{"version": ctl.SchemaVersion, "text": "no services configured\n", "services": []any{}}, nil
	}
	var buf bytes.Buffer
	if err := snap.WriteTable(&buf); err != nil {
		return nil, err
	}
	buf.WriteString(drainNote(snap, n.self, n.config().Cluster.Nodes))
	return map[string]any{"version": ctl.SchemaVersion, "text": buf.String(), "services": snap.Services}, nil
}

// snapshot is the balancer's services then the kernel's, nil without any.
func (n *Node) snapshot() *proxy.Snapshot {
	if n.balancer == nil && n.kernel == nil {
		return nil
	}
	var snap proxy.Snapshot
	if n.balancer != nil {
		snap = n.balancer.Snapshot()
	}
	if n.kernel != nil {
		snap.Services = append(snap.Services, n.kernel.snapshot()...)
	}
	return &snap
}

// real is `hactl real disable|enable SERVICE REAL`: REAL as the config
// writes it or as it resolved (findReal). The drain is this node's only,
// as `ipvsadm -e ... -w 0` on one director is: the reply says so and gives
// the command to run on the peers (realDone).
func (n *Node) real(req ctl.Request) (any, error) {
	if n.balancer == nil && n.kernel == nil {
		return nil, fmt.Errorf("no services configured")
	}
	if req.Action != "disable" && req.Action != "enable" {
		return nil, fmt.Errorf("real: action %q is not disable or enable", req.Action)
	}
	cfg := n.config()
	real, err := findReal(cfg, req.Service, req.Real)
	if err != nil {
		return nil, err
	}
	switch {
	case n.kernel.has(req.Service):
		err = n.kernel.setDraining(req.Service, real, req.Action == "disable")
	case n.balancer == nil:
		err = fmt.Errorf("unknown service %q", req.Service)
	case req.Action == "disable":
		err = n.balancer.DisableReal(req.Service, real)
	default:
		err = n.balancer.EnableReal(req.Service, real)
	}
	if err != nil {
		return nil, err
	}
	return realDone(n.self, cfg.Cluster.Nodes, req, real), nil
}

// realDone is the reply to a `hactl real` that was applied: what changed,
// on which node, and, since neither the drain nor its end reaches the
// peers (nor survives a restart of had), the command to run there so the
// real stays drained wherever the service moves.
func realDone(self string, nodes []string, req ctl.Request, real netip.AddrPort) string {
	what := real.String()
	if req.Real != what {
		what = fmt.Sprintf("%s (%s)", req.Real, real)
	}
	peers := peersOf(self, nodes)
	done := fmt.Sprintf("real %s of service %s %sd", what, req.Service, req.Action)
	if len(peers) == 0 {
		return done
	}
	cmd := fmt.Sprintf("hactl real %s %s %s", req.Action, req.Service, req.Real)
	if req.Action == "disable" {
		return fmt.Sprintf("%s on %s only: the drain stays on this node (and a restart of had ends it); so that it holds after a switchover or failover, run on %s too: %s",
			done, self, joinAnd(peers), cmd)
	}
	return fmt.Sprintf("%s on %s only; if it is disabled on %s too, run there: %s", done, self, joinAnd(peers), cmd)
}

// notSelf refuses `hactl peer reset` of this node itself (self, one of
// nodes): a node keeps no replay state of its own heartbeats, and "not one
// of nodes" would contradict the node list it prints. The error says where
// the command does what was meant: on the peer that drops self's heartbeats.
func notSelf(self string, nodes []string, peer string) error {
	if peer != self {
		return nil
	}
	cmd := "hactl peer reset " + self
	switch peers := peersOf(self, nodes); len(peers) {
	case 0:
		return fmt.Errorf("%s is this node; peer reset is for a peer, and this cluster has none", self)
	case 1:
		return fmt.Errorf("%s is this node; peer reset is for a peer: to have %s accept %s's heartbeats again, run %s on %s", self, peers[0], self, cmd, peers[0])
	default:
		return fmt.Errorf("%s is this node; peer reset is for a peer: to have a peer (%s) accept %s's heartbeats again, run %s on it", self, joinAnd(peers), self, cmd)
	}
}

// peersOf is nodes without self, in order.
func peersOf(self string, nodes []string) []string {
	var peers []string
	for _, n := range nodes {
		if n != self {
			peers = append(peers, n)
		}
	}
	return peers
}

// peerReset is `hactl peer reset PEER`: forget the peer's replay state in
// the links (ha/link) and its generation in the machine, logged as an
// operator decision and put in the status timeline.
func (n *Node) peerReset(ctx context.Context, req ctl.Request) (any, error) {
	if req.Action != "reset" {
		return nil, fmt.Errorf("peer: action %q is not reset", req.Action)
	}
	if err := notSelf(n.self, n.config().Cluster.Nodes, req.Peer); err != nil {
		return nil, err
	}
	if n.links == nil {
		return nil, fmt.Errorf("peer reset %s: no links", req.Peer)
	}
	if err := n.links.ResetPeer(req.Peer); err != nil {
		return nil, err
	}
	if err := n.agent.ResetPeer(ctx, req.Peer); err != nil {
		return nil, err
	}
	reason := "operator reset the replay state of peer " + req.Peer
	n.log.Warn(reason, "peer", req.Peer)
	n.recent.add(ctl.Transition{Time: time.Now(), State: "peer-reset", Reason: reason})
	return fmt.Sprintf("peer %s: replay state reset; its next heartbeat is accepted whatever its generation", req.Peer), nil
}

// beforeRelease marks the connections of group's nat services liberal
// (every group's when group is ""), before the standby is advertised:
// the peer starts the group as soon as it hears it, and its gratuitous
// ARP may come before this node's release has begun (natHandover).
func (n *Node) beforeRelease(group string) {
	if n.kernel == nil {
		return
	}
	var names []string
	for _, g := range n.config().Groups {
		if group == "" || g.Name == group {
			names = append(names, groupServices(g)...)
		}
	}
	n.kernel.markLiberal(names)
}
