package config

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// resourceKeys are the keys each resource kind takes; any other key written
// in the element is an error (the decode alone cannot tell, since all kinds
// share one struct).
var resourceKeys = map[string][]string{
	KindVIP:      {"kind", "address", "interface", "label", "garp"},
	KindBalancer: {"kind", "services"},
	KindIPVSSync: {"kind", "role", "interface", "sync_id"},
	KindScript:   {"kind", "path", "timeout"},
	// conntrack-sync
	KindConntrackSync: {"kind", "interface", "addresses", "port"},
}

func (c *conv) groups(rs []rawGroup, cfg *Config) []Group {
	var groups []Group
	names := map[string]string{}
	vips := map[netip.Addr]string{} // VIP -> path of its first use
	owners := map[string]string{}   // service -> path of the balancer naming it
	for i := range rs {
		r, path := &rs[i], idx("group", i)
		g := Group{
			Name:         c.name(path+".name", r.Name, 32),
			AutoFailback: cfg.Cluster.AutoFailback,
			Notify:       c.str(path+".notify", r.Notify, cfg.Cluster.Notify),
		}
		c.unique(names, path+".name", g.Name, "group")
		if c.ix.has(path + ".auto_failback") {
			g.AutoFailback = r.AutoFailback
		}
		if c.required(path+".preferred") && !slices.Contains(cfg.Cluster.Nodes, r.Preferred) {
			c.errorf(path+".preferred", "%q is not a node in cluster.nodes %q", r.Preferred, cfg.Cluster.Nodes)
		}
		g.Preferred = r.Preferred
		g.Priorities = c.priorities(path+".priorities", r, cfg.Cluster.Nodes)
		if c.required(path+".resources") && len(r.Resources) == 0 {
			c.errorf(path+".resources", "want at least one resource")
		}
		for j := range r.Resources {
			rpath := idx(path+".resources", j)
			res := c.resource(rpath, &r.Resources[j], cfg)
			if res.VIP != nil {
				a := res.VIP.Prefix.Addr()
				if first, dup := vips[a]; dup {
					c.errorf(rpath+".address", "VIP %s is already a resource at %s: two groups would fight over it", a, c.ix.at(first))
				} else {
					vips[a] = rpath + ".address"
				}
			}
			if res.Balancer != nil {
				for k, s := range res.Balancer.Services {
					if first, dup := owners[s]; dup {
						c.errorf(idx(rpath+".services", k), "service %q is already activated by the balancer at %s", s, c.ix.at(first))
					} else {
						owners[s] = idx(rpath+".services", k)
					}
				}
			}
			g.Resources = append(g.Resources, res)
		}
		groups = append(groups, g)
	}
	return groups
}

func (c *conv) priorities(path string, r *rawGroup, nodes []string) map[string]uint8 {
	prio := map[string]uint8{}
	for _, n := range nodes {
		prio[n] = DefaultOtherPriority
		if n == r.Preferred {
			prio[n] = DefaultPreferredPriority
		}
	}
	for _, k := range sortedKeys(r.Priorities) {
		kpath := path + "." + k
		if !slices.Contains(nodes, k) {
			c.keyErrorf(kpath, "%q is not a node in cluster.nodes", k)
			continue
		}
		prio[k] = uint8(c.integer(kpath, r.Priorities[k], int64(prio[k]), 1, 254))
	}
	return prio
}

func (c *conv) resource(path string, r *rawResource, cfg *Config) Resource {
	if !c.required(path + ".kind") {
		return Resource{}
	}
	kind := c.oneOf(path+".kind", r.Kind, "", KindVIP, KindBalancer, KindIPVSSync, KindScript, KindConntrackSync)
	allowed, ok := resourceKeys[kind]
	if !ok {
		return Resource{}
	}
	for _, k := range c.ix.childKeys(path) {
		if !slices.Contains(allowed, k) {
			c.keyErrorf(path+"."+k, "%s is not a %s key (%s takes %s)", k, kind, kind, strings.Join(allowed[1:], ", "))
		}
	}
	res := Resource{Kind: kind}
	switch kind {
	case KindVIP:
		res.VIP = c.vip(path, r, cfg)
	case KindBalancer:
		res.Balancer = &Balancer{}
		if c.required(path+".services") && len(r.Services) == 0 {
			c.errorf(path+".services", "want at least one service name")
		}
		known := map[string]bool{}
		for _, s := range cfg.Services {
			known[s.Name] = true
		}
		for k, s := range r.Services {
			if !known[s] {
				c.errorf(idx(path+".services", k), "no [[service]] named %q", s)
			}
		}
		res.Balancer.Services = r.Services
	case KindIPVSSync:
		res.IPVSSync = &IPVSSync{SyncID: uint8(c.integer(path+".sync_id", r.SyncID, 0, 0, 255))}
		if c.required(path + ".role") {
			res.IPVSSync.Role = c.oneOf(path+".role", r.Role, "", "master", "backup")
		}
		if c.required(path + ".interface") {
			res.IPVSSync.Interface = c.str(path+".interface", r.Interface, "")
		}
	case KindScript:
		res.Script = c.script(path, r)
	case KindConntrackSync:
		res.ConntrackSync = c.conntrackSync(path, r, cfg)
	}
	return res
}

func (c *conv) conntrackSync(path string, r *rawResource, cfg *Config) *ConntrackSync {
	cs := &ConntrackSync{Port: uint16(c.integer(path+".port", r.Port, 3780, 1, 65535)), Addresses: map[string]netip.Addr{}}
	if c.required(path + ".interface") {
		cs.Interface = c.str(path+".interface", r.Interface, "")
	}
	if !c.required(path + ".addresses") {
		return cs
	}
	if len(cfg.Cluster.Nodes) != 2 || len(r.Addresses) != len(cfg.Cluster.Nodes) {
		c.errorf(path+".addresses", "want one IPv4 address per node of [cluster].nodes, and two nodes (conntrackd's FTFW over UDP has one peer); got %d for %d nodes",
			len(r.Addresses), len(cfg.Cluster.Nodes))
		return cs
	}
	for i, a := range r.Addresses {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is4() {
			c.errorf(idx(path+".addresses", i), "%q is not an IPv4 address", a)
			continue
		}
		cs.Addresses[cfg.Cluster.Nodes[i]] = ip
	}
	return cs
}

// maxLabel is the kernel's limit on an address label (IFNAMSIZ - 1).
const maxLabel = 15

func (c *conv) vip(path string, r *rawResource, cfg *Config) *VIP {
	v := &VIP{
		Interface: c.str(path+".interface", r.Interface, ""),
		GARP:      c.garp(path+".garp", &r.GARP, cfg.GARP),
	}
	if c.required(path + ".address") {
		p, err := netip.ParsePrefix(r.Address)
		switch {
		case err != nil:
			c.errorf(path+".address", "%q is not an address with prefix length (want e.g. \"198.18.0.100/24\")", r.Address)
		case p.Addr().IsUnspecified() || p.Addr().IsMulticast() || p.Addr().IsLoopback():
			c.errorf(path+".address", "%s cannot be a virtual address", p.Addr())
		default:
			v.Prefix = p
		}
	}
	if c.ix.has(path + ".label") {
		v.Label = r.Label
		switch {
		case v.Interface == "":
			c.errorf(path+".label", "label %q needs interface: the kernel wants labels to start with the device name", r.Label)
		case !strings.HasPrefix(r.Label, v.Interface) || len(r.Label) > maxLabel:
			c.errorf(path+".label", "%q must start with interface %q and be at most %d bytes (e.g. %q)", r.Label, v.Interface, maxLabel, v.Interface+":vip")
		}
	}
	return v
}

func (c *conv) script(path string, r *rawResource) *Script {
	s := &Script{Timeout: c.duration(path+".timeout", r.Timeout, 20*time.Second, false)}
	if !c.required(path + ".path") {
		return s
	}
	// Heartbeat's haresources form: name::arg1::arg2.
	parts := strings.Split(r.Path, "::")
	if parts[0] == "" {
		c.errorf(path+".path", "%q: want a program path or name, optionally with ::arguments", r.Path)
		return s
	}
	s.Path, s.Args = parts[0], parts[1:]
	if !strings.ContainsRune(s.Path, '/') {
		s.Path = filepath.Join(DefaultScriptDir, s.Path)
	} else if !filepath.IsAbs(s.Path) {
		c.errorf(path+".path", "%q: want an absolute path or a name in %s", s.Path, DefaultScriptDir)
	}
	return s
}

// listenAddrs checks that each service listens where the owner of some
// group can receive: one of the groups' VIPs, or a wildcard or loopback.
func (c *conv) listenAddrs(cfg *Config) {
	vips := map[netip.Addr]bool{}
	for _, g := range cfg.Groups {
		for _, r := range g.Resources {
			if r.VIP != nil {
				vips[r.VIP.Prefix.Addr()] = true
			}
		}
	}
	for i, s := range cfg.Services {
		a := s.Listen.Addr()
		if !a.IsValid() || vips[a] || a.IsUnspecified() || a.IsLoopback() {
			continue
		}
		c.errorf(idx("service", i)+".listen", "%s is not a VIP of any group; listen on a group's vip address, a loopback or 0.0.0.0/[::]", a)
	}
}
