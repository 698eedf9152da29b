package node

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// Handle answers one hactl request (a ctl.Handler).
func (n *Node) Handle(ctx context.Context, req ctl.Request) (any, error) {
	switch req.Verb {
	case ctl.VerbStatus:
		return n.Status(), nil
	case ctl.VerbTakeover, ctl.VerbStandby:
		return n.move(ctx, req)
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
	}
	return nil, fmt.Errorf("unknown verb %q", req.Verb)
}

// move hands group ("" = all) here or to the peer (hb_takeover, hb_standby).
func (n *Node) move(ctx context.Context, req ctl.Request) (any, error) {
	if req.Group != "" {
		if _, err := n.groups.get(req.Group); err != nil {
			return nil, err
		}
	}
	move := n.agent.Takeover
	if req.Verb == ctl.VerbStandby {
		move = n.agent.Standby
	}
	if err := move(ctx, req.Group); err != nil {
		return nil, err
	}
	what := "every group"
	if req.Group != "" {
		what = "group " + req.Group
	}
	return fmt.Sprintf("%s of %s requested", req.Verb, what), nil
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

// real is `hactl real disable|enable SERVICE REAL`.
func (n *Node) real(req ctl.Request) (any, error) {
	if n.balancer == nil && n.kernel == nil {
		return nil, fmt.Errorf("no services configured")
	}
	real, err := netip.ParseAddrPort(req.Real)
	if err != nil {
		return nil, fmt.Errorf("real %q: want ADDRESS:PORT: %v", req.Real, err)
	}
	switch {
	case req.Action != "disable" && req.Action != "enable":
		return nil, fmt.Errorf("real: action %q is not disable or enable", req.Action)
	case n.kernel.has(req.Service):
		err = n.kernel.setDraining(req.Service, real, req.Action == "disable")
	case n.balancer == nil:
		err = fmt.Errorf("proxy: unknown service %q", req.Service)
	case req.Action == "disable":
		err = n.balancer.DisableReal(req.Service, real)
	default:
		err = n.balancer.EnableReal(req.Service, real)
	}
	if err != nil {
		return nil, err
	}
	return fmt.Sprintf("real %s of service %s %sd", real, req.Service, req.Action), nil
}
