package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/internal/ctl"
)

// drainMark is what a drain remembers between hactl's polls: the number
// of the last persistence sync message sent when it started, which the
// peers must hold before the move.
type drainMark struct {
	mu    sync.Mutex
	sentN map[string]uint64 // group -> sync message number at start
}

// drain is the daemon side of `hactl standby --drain` (ctl.VerbDrain):
// "start" quiesces the services of the groups held here (HAProxy's drain
// state: keep-alive ends, new connections still served while the VIP
// routes here), "check" reports what the move still waits for, "cancel"
// ends the drain. hactl polls "check", prints progress and then asks for
// the planned switchover (VerbStandby), which ends the drain by moving.
func (n *Node) drain(ctx context.Context, req ctl.Request) (any, error) {
	groups, services, err := n.drainTargets(req.Group)
	if err != nil {
		return nil, err
	}
	switch req.Action {
	case "start":
		// Draining toward nobody only costs the clients their keep-alive:
		// refuse as the standby would (ha decides who can hold a group;
		// this is the plain part of it, before anything changes here).
		if !slices.ContainsFunc(n.agent.Status().Peers, func(p ha.PeerStatus) bool { return p.Alive && !p.Leaving }) {
			return nil, fmt.Errorf("standby of %s refused: no live peer can hold it", strings.Join(groups, ", "))
		}
		// Nor toward a peer that will not take the groups until an
		// operator acts (in standby itself, in maintenance): refused before anything
		// changes. A peer getting ready is waited for by the drain.
		bs, err := n.agent.StandbyBlocked(ctx, req.Group)
		if err != nil {
			return nil, err
		}
		if bs = slices.DeleteFunc(bs, func(b ha.StandbyBlock) bool { return b.Wait }); len(bs) > 0 {
			return nil, n.refuseStandby(bs, time.Now())
		}
		n.drains.mu.Lock()
		if n.drains.sentN == nil {
			n.drains.sentN = map[string]uint64{}
		}
		for _, g := range groups {
			if n.sync != nil {
				n.drains.sentN[g] = n.sync.sentN()
			}
		}
		n.drains.mu.Unlock()
		if n.balancer != nil && len(services) > 0 {
			if err := n.balancer.Quiesce(true, services...); err != nil {
				return nil, err
			}
		}
		n.log.Info("draining for a planned move", "groups", groups, "services", services)
	case "cancel":
		n.drains.mu.Lock()
		for _, g := range groups {
			delete(n.drains.sentN, g)
		}
		n.drains.mu.Unlock()
		if n.balancer != nil && len(services) > 0 {
			if err := n.balancer.Quiesce(false, services...); err != nil {
				return nil, err
			}
		}
		n.log.Info("drain cancelled", "groups", groups)
		return ctl.DrainState{Groups: groups, Services: services}, nil
	case "check":
	default:
		return nil, fmt.Errorf("action %q is not start, check or cancel", req.Action)
	}
	st, err := n.drainState(groups, services)
	if err != nil {
		return st, err
	}
	// The move also waits for the peer to be ready to take the groups
	// (the readiness a failback waits for), within the drain's timeout.
	bs, err := n.agent.StandbyBlocked(ctx, req.Group)
	if err != nil {
		return st, err
	}
	if len(bs) > 0 {
		st.Waiting = strings.Join(slices.DeleteFunc([]string{st.Waiting, blocksText(bs)}, func(s string) bool { return s == "" }), "; ")
	}
	return st, nil
}

// drainTargets returns the groups a drain of group ("" = all) names, each
// held here and not active-active, and the proxied services their
// balancer resources activate.
func (n *Node) drainTargets(group string) (groups, services []string, err error) {
	cfg := n.config()
	held := map[string]bool{}
	for _, g := range n.agent.Status().Groups {
		if g.State == ha.StateMaster {
			held[g.Name] = true
		}
	}
	for _, g := range cfg.Groups {
		if group != "" && g.Name != group || g.ActiveActive {
			continue
		}
		if !held[g.Name] {
			if group != "" {
				return nil, nil, fmt.Errorf("group %q is not held here: nothing to drain", group)
			}
			continue
		}
		groups = append(groups, g.Name)
		for _, r := range g.Resources {
			if r.Balancer == nil {
				continue
			}
			for _, s := range r.Balancer.Services {
				if !n.kernel.has(s) && !slices.Contains(services, s) {
					services = append(services, s)
				}
			}
		}
	}
	if group != "" && len(groups) == 0 {
		if _, err := n.groups.get(group); err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("group %q is active-active: there is nothing to move", group)
	}
	if len(groups) == 0 {
		return nil, nil, fmt.Errorf("no group is held here: nothing to drain")
	}
	return groups, services, nil
}

// drainState reports the open connections of services and whether every
// live peer holds this node's persistence table up to each drain's start.
func (n *Node) drainState(groups, services []string) (ctl.DrainState, error) {
	st := ctl.DrainState{Groups: groups, Services: services, PeersSynced: true}
	if n.balancer != nil && len(services) > 0 {
		open, err := n.balancer.OpenConns(services...)
		if err != nil {
			return st, err
		}
		st.Open = open
	}
	var lagging []string
	if n.sync != nil {
		n.drains.mu.Lock()
		var upTo uint64
		for _, g := range groups {
			upTo = max(upTo, n.drains.sentN[g])
		}
		n.drains.mu.Unlock()
		for _, p := range n.agent.Status().Peers {
			if p.Alive && !n.sync.caughtUp(p.Name, upTo) {
				lagging = append(lagging, p.Name)
			}
		}
	}
	var waiting []string
	if len(lagging) > 0 {
		st.PeersSynced = false
		waiting = append(waiting, fmt.Sprintf("persistence table not yet held by %s", strings.Join(lagging, ", ")))
	}
	if st.Open > 0 {
		waiting = append(waiting, fmt.Sprintf("%d connection(s) or request(s) open", st.Open))
	}
	st.Waiting = strings.Join(waiting, "; ")
	return st, nil
}

// endDrains forgets the drains of groups that are no longer held here
// (their drained services were deactivated with the group, after its VIPs
// had gone: proxiedActivation). move calls it after every standby,
// whatever its outcome; a group still held (a refused or failed move)
// keeps its drain until hactl cancels it.
func (n *Node) endDrains() {
	released := map[string]bool{}
	for _, g := range n.agent.Status().Groups {
		released[g.Name] = g.State == ha.StateStandby || g.State == ha.StateFailed
	}
	n.drains.mu.Lock()
	defer n.drains.mu.Unlock()
	for g := range n.drains.sentN {
		if released[g] {
			delete(n.drains.sentN, g)
		}
	}
}
