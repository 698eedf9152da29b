package config

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/hapair/hapair/ha/bgp"
	"github.com/hapair/hapair/internal/unicast"
)

// bgp reads [bgp] (nil when absent).
func (c *conv) bgp(r *rawBGP, nodes []string) *BGP {
	if !c.ix.has("bgp") {
		return nil
	}
	b := &BGP{Nodes: map[string]netip.Prefix{}, BFD: true}
	if c.required("bgp.asn") {
		if msg := bgp.CheckASN(r.ASN); msg != "" {
			c.errorf("bgp.asn", "%s", msg)
		} else {
			b.ASN = uint32(r.ASN)
		}
	}
	if c.ix.has("bgp.bfd") {
		b.BFD = r.BFD
	}
	b.HoldTime = c.duration("bgp.hold_time", r.HoldTime, bgp.DefaultHoldTime, false)
	if b.HoldTime < bgp.MinHold {
		c.errorf("bgp.hold_time", "%v is under %v, the least RFC 4271 (section 4.2) allows", b.HoldTime, bgp.MinHold)
	}
	if c.required("bgp.nodes") {
		for _, n := range slices.Sorted(maps.Keys(r.Nodes)) {
			path := "bgp.nodes." + n
			p, err := netip.ParsePrefix(r.Nodes[n])
			switch {
			case !slices.Contains(nodes, n):
				if !c.unsure.nodes {
					c.keyErrorf(path, "%q is not a node in cluster.nodes", n)
				}
			case err != nil || !p.Addr().Is4():
				c.errorf(path, "%q is not an IPv4 address with prefix length (want e.g. \"198.18.0.11/24\")", r.Nodes[n])
			case unicast.Problem(p.Addr()) != "":
				// Left out of Nodes: the neighbours are not compared
				// with a network it does not have.
				c.errorf(path, "%s cannot be node %s's BGP address: %s", p.Addr(), n, unicast.Problem(p.Addr()))
			default:
				b.Nodes[n] = p
			}
		}
		for _, n := range nodes {
			if _, ok := r.Nodes[n]; !ok && !c.unsure.nodes {
				c.errorf("bgp.nodes", "node %q has no address: want one per node of cluster.nodes", n)
			}
		}
	}
	if c.required("bgp.neighbors") && len(r.Neighbors) == 0 {
		c.errorf("bgp.neighbors", "want at least one neighbour")
	}
	seen := map[netip.Addr]string{} // neighbour address -> its key path
	for i, rn := range r.Neighbors {
		path := idx("bgp.neighbors", i)
		var n bgp.Neighbor
		if c.required(path + ".address") {
			n.Address = c.addr(path+".address", rn.Address)
			c.neighborAddress(path+".address", n.Address, b.Nodes, seen)
		}
		if c.required(path + ".asn") {
			if msg := bgp.CheckASN(rn.ASN); msg != "" {
				c.errorf(path+".asn", "%s", msg)
			} else {
				n.ASN = uint32(rn.ASN)
			}
		}
		b.Neighbors = append(b.Neighbors, n)
	}
	return b
}

// neighborAddress checks a neighbour's address a at path against the
// nodes' addresses on the neighbours' network and the neighbours before
// it (seen, which it extends): one BIRD session per router, to a router
// on every node's network.
func (c *conv) neighborAddress(path string, a netip.Addr, nodes map[string]netip.Prefix, seen map[netip.Addr]string) {
	if !a.IsValid() {
		return
	}
	if why := unicast.Problem(a); why != "" {
		c.errorf(path, "%s cannot be a BGP neighbour: %s", a, why)
		return
	}
	if a.Is6() && a.IsLinkLocalUnicast() {
		c.errorf(path, "%s is an IPv6 link-local address: BIRD reaches one only through a named interface, which the generated config does not give; use the router's global address", a)
		return
	}
	if first, dup := seen[a]; dup {
		c.errorf(path, "%s is listed again (first at %s): BIRD would open two sessions to one router, which closes one of them (RFC 4271 section 6.8)", a, c.ix.at(first))
		return
	}
	seen[a] = path
	for _, node := range slices.Sorted(maps.Keys(nodes)) {
		p := nodes[node]
		switch {
		case p.Addr() == a:
			c.errorf(path, "%s is node %s's own address (%s): a node cannot be its own BGP neighbour; give the routers' addresses", a, node, c.ix.at("bgp.nodes."+node))
			return
		case !p.Masked().Contains(a):
			c.errorf(path, "%s is outside node %s's network %s (bgp.nodes.%s): BGP and BFD here are single hop", a, node, p.Masked(), node)
			return
		}
	}
}

// bgpResource reads a bgp resource's addresses.
func (c *conv) bgpResource(path string, r *rawResource) *BGPResource {
	b := &BGPResource{}
	if !c.required(path+".addresses") || len(r.Addresses) == 0 {
		if c.ix.has(path + ".addresses") {
			c.errorf(path+".addresses", "want at least one address")
		}
		return b
	}
	for i, s := range r.Addresses {
		a, err := netip.ParseAddr(s)
		if err != nil {
			c.errorf(idx(path+".addresses", i), "%q is not an IP address (announced as /32 or /128)", s)
			continue
		}
		// vip's rule for a host's own address; a link-local one a
		// router would not forward (RFC 4291 section 2.5.6).
		if why := unicast.Problem(a); why != "" {
			c.errorf(idx(path+".addresses", i), "%s cannot be announced: %s", a, why)
			continue
		}
		if a.IsLinkLocalUnicast() {
			c.errorf(idx(path+".addresses", i), "%s cannot be announced by BGP: it is a link-local address, which routers do not forward", a)
			continue
		}
		b.Addresses = append(b.Addresses, a)
	}
	return b
}

// bgpChecks refuses what cannot work: a bgp resource without [bgp], BGP
// and ARP announcing one address (the LAN's switches and the routers
// would steer its traffic two ways), an active-active group without a bgp
// resource (nothing would spread flows), and one with a vip resource.
func (c *conv) bgpChecks(cfg *Config) {
	for i, g := range cfg.Groups {
		gpath := idx("group", i)
		hasBGP := false
		for j, r := range g.Resources {
			if r.VIP != nil && r.VIP.Prefix.IsValid() {
				if g.ActiveActive {
					c.errorf(idx(gpath+".resources", j)+".kind", "a vip resource in an active-active group: every node would answer ARP for %s; announce it with the bgp resource alone", r.VIP.Prefix.Addr())
				}
			}
		}
		for j, r := range g.Resources {
			if r.BGP == nil {
				continue
			}
			rpath := idx(gpath+".resources", j)
			if hasBGP {
				c.errorf(rpath+".kind", "a second bgp resource in group %q: list every address in one", g.Name)
			}
			hasBGP = true
			if cfg.BGP == nil {
				c.errorf(rpath+".kind", "a bgp resource needs a [bgp] table (asn, nodes, neighbors)")
			}
			for k, a := range r.BGP.Addresses {
				for _, gg := range cfg.Groups {
					for _, rr := range gg.Resources {
						if rr.VIP != nil && rr.VIP.Prefix.Addr() == a {
							c.errorf(idx(rpath+".addresses", k), "%s is also a vip resource (announced by ARP on %s): one address is announced by BGP or by ARP, not both", a, rr.VIP.Interface)
						}
					}
				}
			}
		}
		if g.ActiveActive && !hasBGP {
			c.errorf(gpath+".mode", "active-active needs a bgp resource in the group: routers spread the flows over the nodes announcing it")
		}
	}
}
