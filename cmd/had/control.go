package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hapair/hapair/cmd/internal/ctl"
)

// handle answers one hactl request.
func (d *daemon) handle(ctx context.Context, req ctl.Request) (any, error) {
	switch req.Verb {
	case ctl.VerbStatus:
		return d.status(), nil
	case ctl.VerbTakeover, ctl.VerbStandby:
		if err := d.checkGroup(req.Group); err != nil {
			return nil, err
		}
		move := d.agent.Takeover
		if req.Verb == ctl.VerbStandby {
			move = d.agent.Standby
		}
		if err := move(ctx, req.Group); err != nil {
			return nil, err
		}
		return fmt.Sprintf("%s of %s requested", req.Verb, groupWords(req.Group)), nil
	case ctl.VerbMaintenance:
		if err := d.agent.Maintenance(ctx, req.On); err != nil {
			return nil, err
		}
		if req.On {
			return "maintenance on: not reacting to peers or checks; resources stay as they are", nil
		}
		return "maintenance off", nil
	case ctl.VerbReload:
		return d.reload(ctx, req.DryRun)
	case ctl.VerbServices:
		if d.balancer == nil {
			return map[string]any{"text": "no services configured\n", "services": []any{}}, nil
		}
		snap := d.balancer.Snapshot()
		var buf bytes.Buffer
		if err := snap.WriteTable(&buf); err != nil {
			return nil, err
		}
		return map[string]any{"text": buf.String(), "services": snap.Services}, nil
	case ctl.VerbReal:
		if d.balancer == nil {
			return nil, fmt.Errorf("no services configured")
		}
		real, err := netip.ParseAddrPort(req.Real)
		if err != nil {
			return nil, fmt.Errorf("real %q: want ADDRESS:PORT: %v", req.Real, err)
		}
		switch req.Action {
		case "disable":
			err = d.balancer.DisableReal(req.Service, real)
		case "enable":
			err = d.balancer.EnableReal(req.Service, real)
		default:
			return nil, fmt.Errorf("real: action %q is not disable or enable", req.Action)
		}
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("real %s of service %s %sd", real, req.Service, req.Action), nil
	}
	return nil, fmt.Errorf("unknown verb %q", req.Verb)
}

func groupWords(g string) string {
	if g == "" {
		return "every group"
	}
	return "group " + g
}

func (d *daemon) checkGroup(name string) error {
	if name == "" {
		return nil
	}
	if _, err := d.groups.get(name); err != nil {
		return err
	}
	return nil
}

// status assembles `hactl status` from the agent, the links and the
// balancer snapshots.
func (d *daemon) status() ctl.Status {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	hs := d.agent.Status()
	ls := d.links.Stats()
	now := time.Now()
	st := ctl.Status{
		Node: d.self, Cluster: cfg.Cluster.Name, ClusterID: cfg.Cluster.ID,
		Generation: d.gen, Maintenance: hs.Maintenance, Started: d.started,
	}
	preferred := map[string]string{}
	for _, g := range cfg.Groups {
		preferred[g.Name] = g.Preferred
	}
	lastHeard := map[string]time.Time{}
	for _, p := range hs.Peers {
		lastHeard[p.Name] = p.LastHeard
		ps := ctl.PeerStatus{
			Name: p.Name, Alive: p.Alive, LastHeard: p.LastHeard,
			Generation: p.Generation, Leaving: p.Leaving, Links: map[string]bool{},
		}
		for _, l := range ls.Links {
			ps.Links[l.Name] = l.Up(p.Name, now, cfg.Cluster.Deadtime)
		}
		st.Peers = append(st.Peers, ps)
	}
	for _, g := range hs.Groups {
		gs := ctl.GroupStatus{
			Name: g.Name, Owner: g.Owner, State: g.State.String(), Preferred: preferred[g.Name],
			Priority: int(g.Priority), Reason: g.Reason, Since: g.Since,
		}
		if g.Waiting != "" {
			gs.Reason = strings.TrimSpace(gs.Reason + "; " + g.Waiting)
		}
		if started, running, arp := d.groups.timeline(g.Name); !started.IsZero() {
			tl := &ctl.Timeline{Started: started, Running: running, FirstARP: arp}
			// The previous owner was last heard no later than the start; the
			// latest peer heard before it bounds when the outage began.
			for _, t := range lastHeard {
				if t.Before(started) && t.After(tl.PeerLastHeard) {
					tl.PeerLastHeard = t
				}
			}
			gs.LastTakeover = tl
		}
		st.Groups = append(st.Groups, gs)
	}
	for _, l := range ls.Links {
		drops := map[string]uint64{}
		for r, n := range l.Drops {
			drops[r.String()] = n
		}
		st.Links = append(st.Links, ctl.LinkStatus{Name: l.Name, Kind: l.Kind, Sent: l.Sent, Received: l.Received, Drops: drops})
	}
	if d.balancer != nil {
		b := &ctl.Balancer{}
		for _, s := range d.balancer.Snapshot().Services {
			b.Services++
			if s.Active {
				b.Active++
			}
			for _, r := range s.Reals {
				if r.Pool != "primary" {
					continue
				}
				b.RealsTotal++
				if r.Healthy {
					b.RealsUp++
				}
			}
		}
		st.Balancer = b
	}
	return st
}
