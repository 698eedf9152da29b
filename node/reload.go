package node

import (
	"context"
	"fmt"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/internal/config"
)

// Reload re-reads the config file and applies what changed: balancer
// services and reals (without closing established connections) and the
// resources of changed groups. A group whose definition did not change is
// not touched. Changes the running machine cannot take (cluster timing,
// nodes, links, checks, the set of groups) are refused with what to do,
// and nothing is changed. dry reports the planned changes only.
func (n *Node) Reload(ctx context.Context, dry bool) ([]string, error) {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	lines, err := n.reload(ctx, dry)
	if !dry {
		n.countReload(err)
	}
	return lines, err
}

func (n *Node) reload(ctx context.Context, dry bool) ([]string, error) {
	// Host names are looked up again; one that stopped resolving keeps
	// its last address (lastKnown).
	// The new config is compared with this host as the check does on the
	// node (reloadHost): a VIP on an interface this host lacks would pass
	// the reload and fail at the takeover.
	h := reloadHost(n.self)
	next, err := config.Load(n.opts.Path, configOptions(lastKnown{prev: n.config(), log: n.log}, &h))
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	if self, err := next.Self(n.opts.Node); err != nil || self != n.self {
		return nil, fmt.Errorf("reload: this node %q is no longer in cluster.nodes of %s", n.self, n.opts.Path)
	}
	p := planReload(n.config(), next)
	if len(p.restart) > 0 {
		return nil, p.refusal()
	}
	if why := kernelReload(n.config(), next, n.kernel != nil, n.sync != nil); why != "" {
		return nil, fmt.Errorf("reload: %s: restart had to apply it", why)
	}
	var nextKeys *authkeys.Keyring
	if n.keys != nil {
		line, kr, err := n.keys.reload(next)
		if err != nil {
			return nil, fmt.Errorf("reload: %w", err)
		}
		if kr != nil {
			p.lines, nextKeys = append(p.lines, line), kr
		}
	}
	if dry || len(p.lines) == 0 {
		return p.lines, nil
	}
	if nextKeys != nil {
		n.keys.swap(nextKeys)
	}
	if n.balancer != nil {
		if err := n.balancer.Reload(balancerConfig(next)); err != nil {
			return nil, fmt.Errorf("reload: balancer: %w", err)
		}
	}
	if n.kernel != nil {
		if err := n.kernel.reload(next); err != nil {
			return nil, fmt.Errorf("reload: kernel services: %w", err)
		}
	}
	n.env.services = map[string]bool{}
	for _, s := range next.Services {
		n.env.services[s.Name] = true
	}
	for _, g := range next.Groups {
		if !p.changedGroups[g.Name] {
			continue
		}
		res, vips, err := buildGroup(next, g, n.env)
		if err != nil {
			return p.lines, fmt.Errorf("reload: %w", err)
		}
		if err := n.groups.replace(ctx, g.Name, res, vips); err != nil {
			return p.lines, fmt.Errorf("reload: %w", err)
		}
	}
	n.mu.Lock()
	n.cfg = next
	n.mu.Unlock()
	n.pokeReadiness() // the services, or their reals, may have changed
	n.log.Info("config reloaded", "changes", len(p.lines))
	return p.lines, nil
}

// kernelReload names the first change Reload cannot apply: kernel
// services (nat, dr) appearing in a had that runs none (the kernel side
// is built at start), a service needing the persistence sync (persistent,
// or dr) in a had that started without it (haveSync false: its sockets
// open at start, whatever the service's method), or the balancer gaining
// or losing all its proxy services. "" if none. A sync open at start stays
// open when a reload removes the last persistent service, so persistence
// may come back by reload.
func kernelReload(a, b *config.Config, haveKernel, haveSync bool) string {
	count := func(c *config.Config) (kernel, proxied int) {
		for _, s := range c.Services {
			if s.Method.Kernel() {
				kernel++
			} else {
				proxied++
			}
		}
		return kernel, proxied
	}
	_, pa := count(a)
	kb, pb := count(b)
	switch {
	case kb > 0 && !haveKernel:
		return "nat or dr services appear"
	case !haveSync:
		if why := syncAppears(a, b); why != "" {
			return why
		}
	}
	if (pa == 0) != (pb == 0) {
		return "the balancer gains or loses all its proxy services"
	}
	return ""
}

// syncAppears names the first service of b whose state the persistence
// sync carries (config.Config.NeedsSync) and says how it came, "" if none.
func syncAppears(a, b *config.Config) string {
	const sync = "the persistence sync carries to the peer, and that sync opens its sockets only at start"
	was := map[string]config.Service{}
	for _, s := range a.Services {
		was[s.Name] = s
	}
	for _, s := range b.Services {
		_, existed := was[s.Name]
		switch {
		case s.Method.Flows() && existed:
			return fmt.Sprintf("service %s becomes method %s, whose flows %s", s.Name, s.Method, sync)
		case s.Method.Flows():
			return fmt.Sprintf("service %s appears with method %s, whose flows %s", s.Name, s.Method, sync)
		case s.Persistent > 0 && existed:
			return fmt.Sprintf("service %s becomes persistent (%v), whose entries %s", s.Name, s.Persistent, sync)
		case s.Persistent > 0:
			return fmt.Sprintf("service %s appears with persistent = %v, whose entries %s", s.Name, s.Persistent, sync)
		}
	}
	return ""
}
