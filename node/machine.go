package node

import (
	"log/slog"
	"net/netip"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/internal/config"
)

// This file turns the validated config into the inputs of the ownership
// side: ha.Config for the machine and the link set's config.

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
		mg := ha.GroupConfig{Name: g.Name, Preferred: g.Preferred(), Priorities: g.Priorities, AutoFailback: &failback}
		gateConfig(g, &mg)
		mg.MakeBeforeBreak = makeBeforeBreak(g)
		mc.Groups = append(mc.Groups, mg)
	}
	for _, p := range cfg.Pings {
		mc.Checks = append(mc.Checks, ha.CheckConfig{Name: pingName(p.Address), Weight: clampWeight(p.Weight), Ping: true})
	}
	for _, t := range cfg.Tracks {
		mc.Checks = append(mc.Checks, ha.CheckConfig{Name: trackName(t.Name), Weight: clampWeight(t.Weight)})
	}
	return mc
}

// makeBeforeBreak reports whether g may be held by two nodes at once
// during a move (ha.GroupConfig.MakeBeforeBreak): it announces addresses
// by BGP (bound on lo, never claimed by ARP), and its other resources are
// balancers, which serve wherever a router sends a flow. A vip (ARP), a
// script or a sync resource must run on one node at a time.
func makeBeforeBreak(g config.Group) bool {
	bgp := false
	for _, r := range g.Resources {
		switch r.Kind {
		case config.KindBGP:
			bgp = true
		case config.KindBalancer:
		default:
			return false
		}
	}
	return bgp
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

// linkConfig maps the cluster and every [[link]] to the link set, logging
// to log (had's logger: the link set's dropped-heartbeat lines are how an
// operator learns of a wrong authkeys secret or cluster id). kr is nil in
// a dry run without authkeys; Validate then needs a stand-in.
func linkConfig(cfg *config.Config, self string, kr *authkeys.Keyring, log *slog.Logger) link.Config {
	lc := link.Config{ClusterID: cfg.Cluster.ID, Self: self, Nodes: cfg.Cluster.Nodes, Keyring: kr, Realtime: cfg.Cluster.Realtime,
		Logger: log.With("component", "heartbeat")}
	for _, l := range cfg.Links {
		lc.Links = append(lc.Links, link.Spec{
			Name: l.Name, Kind: l.Kind, Interface: l.Interface,
			Group: l.Group, Port: l.Port, Peers: l.Peers,
		})
	}
	return lc
}
