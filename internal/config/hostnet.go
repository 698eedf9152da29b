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
		}
	}
}
