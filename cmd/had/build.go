package main

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/hapair/hapair/cmd/internal/config"
	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/check"
)

// This file turns the validated config into the inputs of each package:
// ha.Config for the machine, link specs, resource groups and the balancer
// config. It holds no state; daemon.go owns what it builds.

// machineConfig maps the cluster, groups, ping nodes and track checks.
func machineConfig(cfg *config.Config, self string, generation uint64) ha.Config {
	c := cfg.Cluster
	mc := ha.Config{
		Self:         self,
		Nodes:        c.Nodes,
		Generation:   generation,
		Keepalive:    c.Keepalive,
		Warntime:     c.Warntime,
		Deadtime:     c.Deadtime,
		Initdead:     c.Initdead,
		AutoFailback: c.AutoFailback,
		FailbackHold: c.FailbackHold,
	}
	for _, g := range cfg.Groups {
		failback := g.AutoFailback
		mc.Groups = append(mc.Groups, ha.GroupConfig{Name: g.Name, Preferred: g.Preferred, Priorities: g.Priorities, AutoFailback: &failback})
	}
	for _, p := range cfg.Pings {
		mc.Checks = append(mc.Checks, ha.CheckConfig{Name: pingName(p.Address), Weight: clampWeight(p.Weight), Ping: true})
	}
	for _, t := range cfg.Tracks {
		mc.Checks = append(mc.Checks, ha.CheckConfig{Name: trackName(t.Name), Weight: clampWeight(t.Weight)})
	}
	return mc
}

func pingName(a netip.Addr) string { return "ping " + a.String() }
func trackName(n string) string    { return "track " + n }

// clampWeight fits a configured penalty into the machine's uint8: a penalty
// of 255 already takes any priority down to the floor.
func clampWeight(w int) uint8 {
	switch {
	case w < 0:
		return 0
	case w > 255:
		return 255
	}
	return uint8(w)
}

func linkSpecs(cfg *config.Config) []link.Spec {
	specs := make([]link.Spec, 0, len(cfg.Links))
	for _, l := range cfg.Links {
		specs = append(specs, link.Spec{
			Name: l.Name, Kind: l.Kind, Interface: l.Interface,
			Group: l.Group, Port: l.Port, Peers: l.Peers,
		})
	}
	return specs
}

// resourceDeps are the shared handles resources are built with.
type resourceDeps struct {
	kernel   vip.Kernel
	balancer *proxy.Balancer   // nil when no service is configured
	ipvs     *ipvssync.Netlink // nil unless a group has an ipvs-sync resource
	log      *slog.Logger
}

// buildGroup makes the resource group for g, in start order.
func buildGroup(g config.Group, deps resourceDeps) (*resource.Group, []*vip.VIP, error) {
	var rs []resource.Resource
	var vips []*vip.VIP
	for i, r := range g.Resources {
		where := fmt.Sprintf("group %q resource %d (%s)", g.Name, i, r.Kind)
		switch {
		case r.VIP != nil:
			v, err := newVIP(g.Name, r.VIP, deps)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			rs = append(rs, v)
			vips = append(vips, v)
		case r.Balancer != nil:
			if deps.balancer == nil {
				return nil, nil, fmt.Errorf("%s: no balancer is running", where)
			}
			rs = append(rs, &balancerResource{b: deps.balancer, services: r.Balancer.Services})
		case r.Script != nil:
			s, err := script.New(script.Spec{
				Resource:      r.Script.Path,
				Args:          r.Script.Args,
				StartTimeout:  r.Script.Timeout,
				StopTimeout:   r.Script.Timeout,
				StatusTimeout: r.Script.Timeout,
			})
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			rs = append(rs, s)
		case r.IPVSSync != nil:
			s, err := newIPVSSync(r.IPVSSync, deps)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", where, err)
			}
			rs = append(rs, s)
		default:
			return nil, nil, fmt.Errorf("%s: unknown resource kind", where)
		}
	}
	return resource.NewGroup(g.Name, rs, resource.Timeouts{}), vips, nil
}

func newVIP(group string, c *config.VIP, deps resourceDeps) (*vip.VIP, error) {
	form, err := vip.ParseForm(c.GARP.Form)
	if err != nil {
		return nil, err
	}
	second := c.GARP.SecondBurst
	if second == 0 {
		second = -1 // config: 0 disables; vip: negative disables
	}
	suffix := group
	iface := c.Interface
	if c.Label != "" && iface != "" && len(c.Label) > len(iface)+1 {
		suffix = c.Label[len(iface)+1:]
	}
	count := c.GARP.Count
	return vip.New(vip.Config{
		Address:     c.Prefix,
		Interface:   iface,
		LabelSuffix: suffix,
		Schedule: vip.Schedule{
			Count: count, Interval: c.GARP.Interval,
			SecondDelay: second, SecondCount: count,
			Refresh: c.GARP.Refresh,
		},
		Form:   form,
		Kernel: deps.kernel,
		Logger: deps.log.With("group", group),
	})
}

// balancerConfig maps every [[service]] to the embedded balancer.
func balancerConfig(cfg *config.Config) proxy.Config {
	var pc proxy.Config
	for _, s := range cfg.Services {
		sc := proxy.ServiceConfig{
			Name: s.Name, Listen: s.Listen, Protocol: s.Protocol, Mode: s.Mode,
			Scheduler: s.Scheduler, Persistent: s.Persistent, Quiescent: s.Quiescent,
			Fallback: s.Fallback, ConnectTimeout: s.ConnectTimeout, IdleTimeout: s.IdleTimeout,
			Check: check.Spec{
				Type: s.Check.Type, Request: s.Check.Request, Host: s.Check.Host,
				Receive: s.Check.Receive, Status: s.Check.Status,
				Program: s.Check.Program, Args: s.Check.Args, Virtual: s.Listen,
				Interval: s.Check.Interval, Timeout: s.Check.Timeout,
				Rise: s.Check.Rise, Fall: s.Check.Fall,
			},
		}
		for _, r := range s.Reals {
			sc.Reals = append(sc.Reals, proxy.RealConfig{Address: r.Address, Weight: r.Weight})
		}
		for _, r := range s.Backups {
			sc.Backups = append(sc.Backups, proxy.RealConfig{Address: r.Address, Weight: r.Weight})
		}
		for _, m := range s.Monitors {
			sc.Monitors = append(sc.Monitors, check.Monitor{Program: m.Script, Args: m.Args, Interval: m.Interval, Timeout: m.Timeout})
		}
		pc.Services = append(pc.Services, sc)
	}
	return pc
}

// groupNotify returns the notify hook program of each group ("" = none).
func groupNotify(cfg *config.Config) map[string]string {
	m := make(map[string]string, len(cfg.Groups))
	for _, g := range cfg.Groups {
		prog := cfg.Cluster.Notify
		if g.Notify != "" {
			prog = g.Notify
		}
		m[g.Name] = prog
	}
	return m
}
