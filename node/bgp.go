package node

import (
	"slices"
	"time"

	"github.com/hapair/hapair/ha/bgp"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
)

// bgpOptions is ha/bgp's view of [bgp] for node self; BIRD runs at
// realtime priority when had's heartbeat path does (cluster.realtime).
func bgpOptions(cfg *config.Config, self string) bgp.Options {
	b := cfg.BGP
	return bgp.Options{ASN: b.ASN, RouterID: b.Nodes[self].Addr(), Neighbors: b.Neighbors, HoldTime: b.HoldTime, BFD: b.BFD, Realtime: cfg.Cluster.Realtime}
}

// openSpeaker makes the node's BGP speaker (BIRD) when a group has a bgp
// resource; it starts with the first announcement.
func (e *env) openSpeaker(cfg *config.Config) error {
	if cfg.BGP == nil || !usesKind(cfg, config.KindBGP) {
		return nil
	}
	o := bgpOptions(cfg, e.self)
	if e.dry {
		return o.Validate()
	}
	s, err := bgp.NewSpeaker(o, bgp.DirIn(e.stateDir), "", e.log.With("component", "bgp"))
	if err != nil {
		return err
	}
	e.speaker = s
	e.closers = append(e.closers, s.Close)
	return nil
}

func newBGP(group string, r config.Resource, e *env) (resource.Resource, error) {
	if e.noHost {
		return dryResource{"bgp"}, nil // BIRD is on the other machine
	}
	if e.dry {
		return dryResource{"bgp"}, bgp.Check("")
	}
	services := e.groupServices[group]
	return e.speaker.Resource(bgp.ResourceConfig{
		Group: group, Addresses: r.BGP.Addresses, Loopback: bgp.Lo{},
		Healthy:      func() bool { return servicesHealthy(e.snapshot(), services) },
		GateInterval: gateInterval(e.checkIntervals, services),
		Arrivals:     arrivals(e.balancer, services),
		Logger:       e.log, // the resource names the group in each line
	})
}

// arrivals returns the bgp resource's Arrivals: what services (the
// group's) have received on b so far, TCP connections, HTTP requests or
// UDP datagrams, whether served or refused (nat and dr services are the
// kernel's, not counted); nil without a balancer.
func arrivals(b *proxy.Balancer, services []string) func() uint64 {
	if b == nil {
		return nil
	}
	return func() uint64 {
		var n uint64
		for name, st := range b.Stats().Services {
			switch {
			case !slices.Contains(services, name):
			case st.TCP != nil:
				n += st.TCP.Accepted + st.TCP.Refused
			case st.HTTP != nil:
				n += st.HTTP.Requests + st.HTTP.Refused
			case st.UDP != nil:
				n += st.UDP.Datagrams + st.UDP.Refused
			}
		}
		return n
	}
}

// gateInterval polls the health gate at an eighth of the shortest check
// interval of the group's services (20ms..100ms), so a failed check is
// acted on well within the next check.
func gateInterval(intervals map[string]time.Duration, services []string) time.Duration {
	d := 100 * time.Millisecond
	for _, s := range services {
		if iv, ok := intervals[s]; ok && iv > 0 {
			d = min(d, iv/8)
		}
	}
	return max(d, 20*time.Millisecond)
}

// servicesHealthy is the bgp health gate: every named service has a
// healthy primary real (the node can serve what it would announce).
func servicesHealthy(snap *proxy.Snapshot, services []string) bool {
	if snap == nil {
		return len(services) == 0
	}
	for _, s := range snap.Services {
		if !slices.Contains(services, s.Name) {
			continue
		}
		ok := false
		for _, r := range s.Reals {
			ok = ok || (r.Pool == "primary" && r.Healthy && !r.Draining)
		}
		if !ok {
			return false
		}
	}
	return true
}
