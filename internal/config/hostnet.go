package config

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/hapair/hapair/ha/link"
)

// Net is this host's network as the config check sees it: the facts had
// relies on at start or at a takeover that no config file can carry.
type Net struct {
	// Interfaces maps every interface name to the addresses it holds,
	// with their prefix lengths.
	Interfaces map[string][]netip.Prefix
	// NonlocalBind is net.ipv4.ip_nonlocal_bind = 1: a socket may bind an
	// address no interface holds, so a ucast link's own address need not
	// be here yet.
	NonlocalBind bool
	// Foreign maps each address held here that hapair did not add (no
	// ha/vip protocol mark: the host's own, or another tool's) to its
	// interface: ha/vip never takes such an address over.
	Foreign map[netip.Addr]string
}

// holds reports whether some interface holds a.
func (n Net) holds(a netip.Addr) bool {
	for _, ps := range n.Interfaces {
		for _, p := range ps {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// subnetOf reports whether some interface has a subnet containing a other
// than a itself: where ha/vip adds a VIP written without an interface.
func (n Net) subnetOf(a netip.Addr) bool {
	for _, ps := range n.Interfaces {
		for _, p := range ps {
			if p.Addr() != a && p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// names lists the interfaces for messages: "lo, eth0".
func (n Net) names() string {
	return strings.Join(slices.Sorted(maps.Keys(n.Interfaces)), ", ")
}

// probeNet compares cfg with this host's network for node self: every
// interface the config names exists (ha/link binds its links to theirs at
// start, ha/vip, conntrackd and the dr service take theirs at a
// takeover), self's own ucast link addresses and conntrack-sync address
// are held here (bound at start and at a takeover), a VIP written
// without an interface has a subnet here to go on (ha/vip's rule at a
// takeover), and the admin listener's and this node's BGP addresses are
// here. keepalived checks its interfaces at load the same way.
func (c *conv) probeNet(cfg *Config, h *Host) {
	self, err := cfg.Self(h.Node)
	if err != nil {
		who := fmt.Sprintf("--node %q", h.Node)
		if h.Node == "" {
			name, _ := os.Hostname()
			who = fmt.Sprintf("this host's name %q", name)
		}
		c.errorf("cluster.nodes", "%s is not one of them: host facts are checked for this host's node; name it with --node NAME, or leave them out for a config meant for another machine (hactl check-config --no-host)", who)
		return
	}
	n, err := h.Net()
	if err != nil {
		c.errs = append(c.errs, &Error{Pos: Pos{File: c.ix.file}, Msg: fmt.Sprintf("reading this host's interfaces: %v", err)})
		return
	}
	iface := func(path, name, what string) {
		if _, ok := n.Interfaces[name]; name != "" && !ok {
			c.errorf(path, "interface %q is not on this host (it has %s): %s", name, n.names(), what)
		}
	}
	for i, l := range cfg.Links {
		path := idx("link", i)
		iface(path+".interface", l.Interface, "had fails to open link "+l.Name+" at start")
		if a, ok := l.Peers[self]; ok && l.Kind == link.KindUcast && !n.NonlocalBind && !n.holds(a) {
			c.errorf(path+".peers."+self, "%s is this node's (%s) address on link %s, and no interface of this host holds it: had binds it at start and would fail", a, self, l.Name)
		}
	}
	for path, r := range cfg.resources() {
		takeover := fmt.Sprintf("taking group %q over would fail", r.group.Name)
		switch {
		case r.VIP != nil:
			iface(path+".interface", r.VIP.Interface, takeover)
			a := r.VIP.Prefix.Addr()
			if dev, ok := n.Foreign[a]; ok {
				c.errorf(path+".address", "%s is already on %s of this host, and hapair did not add it (the host's own address, or another tool's): hapair never takes such an address over, so %s", a, dev, takeover)
			} else if r.VIP.Interface == "" && a.IsValid() && !n.subnetOf(a) {
				c.errorf(path+".address", "no interface of this host has a subnet containing %s: %s; set interface", a, takeover)
			}
		case r.ConntrackSync != nil:
			iface(path+".interface", r.ConntrackSync.Interface, takeover)
			if k := slices.Index(cfg.Cluster.Nodes, self); k >= 0 {
				if a, ok := r.ConntrackSync.Addresses[self]; ok && !n.holds(a) {
					c.errorf(idx(path+".addresses", k), "%s is this node's (%s) address for conntrackd, and no interface of this host holds it: conntrackd binds it, so %s", a, self, takeover)
				}
			}
		case r.IPVSSync != nil:
			iface(path+".interface", r.IPVSSync.Interface, takeover)
		}
	}
	for i, s := range cfg.Services {
		iface(idx("service", i)+".interface", s.Interface, fmt.Sprintf("activating service %q would fail", s.Name))
	}
	for i, p := range cfg.Pings {
		if n.holds(p.Address) {
			c.errorf(idx("ping", i)+".address", "%s is an address of this host: it always answers, so it breaks no tie; want an address beyond this host (e.g. the gateway)", p.Address)
		}
	}
	if a := cfg.Admin.Listen.Addr(); a.IsValid() && !a.IsLoopback() && !a.IsUnspecified() && !n.NonlocalBind && !n.holds(a) {
		c.errorf("admin.listen", "no interface of this host holds %s: had binds the admin listener at start and would fail", a)
	}
	if b := cfg.BGP; b != nil {
		if p, ok := b.Nodes[self]; ok && !n.holds(p.Addr()) {
			c.errorf("bgp.nodes."+self, "%s is this node's (%s) address on the neighbours' network, and no interface of this host holds it: its BGP sessions and BFD would never come up", p.Addr(), self)
		} else if ok {
			c.neighborsOnLink(cfg, self, n)
		}
	}
}

// neighborsOnLink reports a neighbour outside the network this host really
// has around self's BGP address: the config check compares neighbours with
// bgp.nodes as written, but BIRD's single-hop (direct) sessions wait for
// the neighbour on a connected network of the host.
func (c *conv) neighborsOnLink(cfg *Config, self string, n Net) {
	b := cfg.BGP
	a := b.Nodes[self].Addr()
	for dev, ps := range n.Interfaces {
		for _, p := range ps {
			if p.Addr() != a {
				continue
			}
			for i, nb := range b.Neighbors {
				if nb.Address.IsValid() && !p.Masked().Contains(nb.Address) {
					c.errorf("bgp.nodes."+self, "%s is held here as %s on %s, whose network %s does not hold neighbour %s (bgp.neighbors[%d]): BIRD's single-hop session to it would never come up", a, p, dev, p.Masked(), nb.Address, i)
					return
				}
			}
			c.ipv6NextHop(cfg, a, dev, ps)
			return
		}
	}
}

// ipv6NextHop reports the first IPv6 address a bgp resource announces
// when dev, where this node's BGP address a is, has no global IPv6
// address: the IPv6 routes ride the IPv4 sessions with that address as
// their next hop (ha/bgp's hasIPv6; RFC 2545 section 3), and without one
// they are never announced.
func (c *conv) ipv6NextHop(cfg *Config, a netip.Addr, dev string, ps []netip.Prefix) {
	if slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Addr().Is6() && !p.Addr().IsLinkLocalUnicast() }) {
		return
	}
	for path, r := range cfg.resources() {
		if r.BGP == nil {
			continue
		}
		for k, v := range r.BGP.Addresses {
			if v.Is6() {
				c.errorf(idx(path+".addresses", k), "%s rides the IPv4 BGP sessions, and %s (where this node's %s is) has no global IPv6 address for BIRD to give as its next hop (RFC 2545 section 3): the route would never be announced; add one", v, dev, a)
				return
			}
		}
	}
}
