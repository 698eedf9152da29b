package config

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/bgp"
	"github.com/hapair/hapair/ha/conntracksync"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/unicast"
)

// resourceKeys are the keys each resource kind takes; any other key written
// in the element is an error naming the key and the kind (the decode alone
// cannot tell, since all kinds share one struct). The runtime table of
// resource constructors lives with the node; this is the config side.
var resourceKeys = map[string][]string{
	KindVIP:      {"kind", "address", "interface", "label", "garp"},
	KindBalancer: {"kind", "services"},
	KindIPVSSync: {"kind", "role", "interface", "sync_id"},
	KindScript:   {"kind", "path", "timeout"},
	// conntrack-sync
	KindConntrackSync: {"kind", "interface", "addresses", "port"},
	KindBGP:           {"kind", "addresses"},
}

func (c *conv) groups(rs []rawGroup, cfg *Config) []Group {
	var groups []Group
	owners := map[string]string{} // service -> path of the balancer naming it
	firstIPVSSync := ""           // path of the first ipvs-sync resource
	for i := range rs {
		r, path := &rs[i], idx("group", i)
		g := Group{
			Name:         r.Name, // ha validates it (machine)
			AutoFailback: cfg.Cluster.AutoFailback,
			Notify:       cfg.Cluster.Notify,
		}
		c.required(path + ".name")
		if c.ix.has(path + ".notify") {
			g.Notify = c.program(path+".notify", r.Notify)
		}
		g.ActiveActive = c.oneOf(path+".mode", r.Mode, ModeActivePassive, ModeActivePassive, ModeActiveActive) == ModeActiveActive
		if c.ix.has(path + ".auto_failback") {
			g.AutoFailback = r.AutoFailback
		}
		g.FailbackMinHealthy = int(c.integer(path+".failback_min_healthy", r.FailbackMinHealthy, 0, 0, ha.MaxHealthy))
		// An active-active group has no owner to prefer (mootGroupKeys
		// refuses the key there); every other group needs one.
		if !g.ActiveActive && c.required(path+".preferred") {
			g.Preference = c.preference(path+".preferred", r.Preferred, cfg.Cluster.Nodes)
		}
		g.Priorities = c.priorities(path+".priorities", r, g.Preference, cfg.Cluster.Nodes)
		if c.required(path+".resources") && len(r.Resources) == 0 {
			c.errorf(path+".resources", "want at least one resource")
		}
		for j := range r.Resources {
			rpath := idx(path+".resources", j)
			res := c.resource(rpath, &r.Resources[j], cfg)
			if res.IPVSSync != nil {
				// ha/ipvssync keeps one daemon per state: a second resource
				// would restart the first's with its own settings, and its
				// release would stop a daemon the other group still uses.
				if firstIPVSSync != "" {
					c.errorf(rpath+".kind", "a second ipvs-sync resource (the first at %s): a host runs one master and one backup IPVS sync daemon (ipvsadm --start-daemon), which one resource drives; keep one, in the group whose owner must send the connection updates", c.ix.at(firstIPVSSync+".kind"))
				} else {
					firstIPVSSync = rpath
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
		if !c.mootGroupKeys(path, &g) {
			c.failbackMin(path+".failback_min_healthy", &g, cfg.Services)
		}
		groups = append(groups, g)
	}
	return groups
}

// preference reads `preferred`: one node name, or an ordered list of
// distinct node names, best first.
func (c *conv) preference(path string, v any, nodes []string) []string {
	var list []string
	switch v := v.(type) {
	case string:
		list = []string{v}
	case []any:
		if len(v) == 0 {
			c.errorf(path, "want a node name or a non-empty list of node names")
			return nil
		}
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				c.errorf(idx(path, i), "%v is not a node name", e)
				return nil
			}
			list = append(list, s)
		}
	default:
		c.errorf(path, "%v is not a node name or a list of node names", v)
		return nil
	}
	for i, n := range list {
		p := path
		if _, isList := v.([]any); isList {
			p = idx(path, i)
		}
		switch {
		case !slices.Contains(nodes, n):
			if !c.unsure.nodes {
				c.errorf(p, "%q is not a node in nodes %q", n, nodes)
			}
			return nil
		case slices.Index(list, n) < i:
			c.errorf(p, "node %q is listed twice", n)
			return nil
		}
	}
	return list
}

// priorities fills every node's base priority: the ones written, else ha's
// defaults for the rank in the preference list and for unlisted nodes.
func (c *conv) priorities(path string, r *rawGroup, preference, nodes []string) map[string]uint8 {
	prio := map[string]uint8{}
	for _, n := range nodes {
		prio[n] = ha.PriorityDefault
		if rank := slices.Index(preference, n); rank >= 0 {
			prio[n] = ha.PreferencePriority(rank)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Priorities)) {
		kpath := path + "." + k
		if !slices.Contains(nodes, k) {
			if !c.unsure.nodes {
				c.keyErrorf(kpath, "%q is not a node in cluster.nodes", k)
			}
			continue
		}
		prio[k] = uint8(c.integer(kpath, r.Priorities[k], int64(prio[k]), 1, int64(ha.PriorityMax)))
	}
	c.priorityOrder(path, r, preference, nodes, prio)
	return prio
}

// priorityOrder reports written priorities that give the group to another
// node than preferred ranks first: the highest priority wins and a tie
// goes to the lower node name (DESIGN.md, ownership rules), so such a
// preferred would be overruled without a word. Each node listed in
// preferred must win over every node ranked below it.
func (c *conv) priorityOrder(path string, r *rawGroup, preference, nodes []string, prio map[string]uint8) {
	below := slices.Clone(preference) // rank order: the list, then the rest
	for _, n := range nodes {
		if !slices.Contains(below, n) {
			below = append(below, n)
		}
	}
	reported := map[string]bool{}
	for i, a := range preference {
		for _, b := range below[i+1:] {
			pa, pb := prio[a], prio[b]
			if reported[b] || pb < pa || pb == pa && a < b {
				continue
			}
			at := b
			if _, written := r.Priorities[b]; !written {
				at = a
			}
			if _, written := r.Priorities[at]; !written {
				continue // the defaults rank the list in order
			}
			reported[b] = true
			x, y, px, py, rel, fix := b, a, pb, pa, "above", fmt.Sprintf("give %s a lower priority", b)
			if at == a {
				x, y, px, py, rel, fix = a, b, pa, pb, "below", fmt.Sprintf("give %s a higher priority than %d", a, pb)
			}
			how := fmt.Sprintf("%d ranks %s %s %s (%d)", px, x, rel, y, py)
			if pa == pb {
				how = fmt.Sprintf("%d ties %s with %s (%d), and a tie goes to the lower node name, %s", px, x, y, py, b)
			}
			c.errorf(path+"."+at, "%s, but preferred ranks %s first: the group would go to %s; %s, or list %s first in preferred", how, a, b, fix, b)
		}
	}
}

func (c *conv) resource(path string, r *rawResource, cfg *Config) Resource {
	if !c.required(path+".kind") || !c.kindKeys(path, "resource", r.Kind, resourceKeys) {
		c.unsure.kinds = true
		return Resource{}
	}
	res := Resource{Kind: r.Kind}
	switch r.Kind {
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
			if !known[s] && !c.unsure.services {
				c.errorf(idx(path+".services", k), "no [[service]] named %q", s)
			}
		}
		res.Balancer.Services = r.Services
	case KindIPVSSync:
		if c.ix.has(path + ".interface") {
			c.ifname(path+".interface", r.Interface) // the kernel's rule, at the key; ipvssync's own below
		}
		res.IPVSSync = &IPVSSync{SyncID: uint8(c.integer(path+".sync_id", r.SyncID, 0, 0, 255)), Role: r.Role, Interface: r.Interface}
		ic := ipvssync.Config{Role: r.Role, Interface: r.Interface}
		c.domain(ic.Validate(), func(p string) string { return path + "." + p })
	case KindScript:
		res.Script = c.script(path, r)
	case KindConntrackSync:
		res.ConntrackSync = c.conntrackSync(path, r, cfg)
	case KindBGP:
		res.BGP = c.bgpResource(path, r)
	}
	return res
}

// daemonDirs checks cluster.state_dir for the daemons had keeps their
// files under it (conntrackd per conntrack-sync group, BIRD for the bgp
// resources), each by its package's rule (DirError): their configs and
// control sockets name paths in it. One error, at the key, naming the
// first resource that needs it.
func (c *conv) daemonDirs(cfg *Config) {
	for i, g := range cfg.Groups {
		for j, r := range g.Resources {
			var err error
			switch {
			case r.ConntrackSync != nil:
				err = conntracksync.DirError(conntracksync.DirIn(cfg.Cluster.StateDir, g.Name))
			case r.BGP != nil:
				err = bgp.DirError(bgp.DirIn(cfg.Cluster.StateDir))
			}
			if err != nil && !c.read["cluster.state_dir"] {
				c.errorf("cluster.state_dir", "%v: the %s resource keeps its daemon's files there (%s)", err, r.Kind, c.ix.at(idx(idx("group", i)+".resources", j)+".kind"))
			}
		}
	}
}

func (c *conv) conntrackSync(path string, r *rawResource, cfg *Config) *ConntrackSync {
	cs := &ConntrackSync{Port: uint16(c.integer(path+".port", r.Port, conntracksync.DefaultPort, 1, 65535)), Addresses: map[string]netip.Addr{}}
	if c.required(path + ".interface") {
		cs.Interface = c.ifname(path+".interface", r.Interface)
		if err := conntracksync.InterfaceError(cs.Interface); err != nil && !c.read[path+".interface"] {
			c.errorf(path+".interface", "%v", err)
		}
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
		if why := unicast.Problem(ip); why != "" {
			c.errorf(idx(path+".addresses", i), "%s cannot be a node's conntrack-sync address: %s", ip, why)
			continue
		}
		node := cfg.Cluster.Nodes[i]
		if j := slices.IndexFunc(cfg.Cluster.Nodes[:i], func(n string) bool { return cs.Addresses[n] == ip }); j >= 0 {
			c.errorf(idx(path+".addresses", i), "%s is also node %s's address (%s): each node's conntrackd binds its own address and sends to the other's; give node %s's",
				ip, cfg.Cluster.Nodes[j], c.ix.at(idx(path+".addresses", j)), node)
			continue
		}
		cs.Addresses[node] = ip
	}
	return cs
}

func (c *conv) vip(path string, r *rawResource, cfg *Config) *VIP {
	v := &VIP{
		Interface: c.ifname(path+".interface", r.Interface),
		GARP:      c.garp(path+".garp", &r.GARP, cfg.GARP),
	}
	if c.ix.has(path + ".label") {
		v.Label = r.Label
	}
	if c.required(path + ".address") {
		p, err := netip.ParsePrefix(r.Address)
		if err != nil {
			c.errorf(path+".address", "%q is not an address with prefix length (want e.g. \"198.18.0.100/24\")", r.Address)
			c.unsure.vips = true
			return v
		}
		v.Prefix = p
		c.placeholder(path+".address", p.Addr())
	}
	vc := v.Spec()
	c.domain(c.inheritedGARP(path, vc.Validate()), func(p string) string { return path + "." + p })
	return v
}

// inheritedGARP rewords the errors of a vip's merged schedule about a
// garp key the vip does not write: one [garp] already reported is not
// reported again; one that fails only with this vip's own garp keys (its
// count or interval against an inherited second_burst) stays with the
// vip and says where the inherited value comes from.
func (c *conv) inheritedGARP(path string, err error) error {
	var out []error
	for _, fe := range field.All(err) {
		k, ok := strings.CutPrefix(fe.Path, "garp.")
		if !ok || c.ix.has(path+".garp."+k) {
			out = append(out, fe)
			continue
		}
		if c.reported("garp." + k) {
			continue
		}
		from := "the default"
		if c.ix.has("garp." + k) {
			from = "[garp] at " + c.ix.at("garp."+k).String()
		}
		out = append(out, &field.Error{Path: fe.Path, Msg: fmt.Sprintf("%s; %s is not set in this vip's garp: it is %s", fe.Msg, k, from)})
	}
	return errors.Join(out...)
}

// Spec is v as ha/vip takes it, without the handles (Kernel, Logger) the
// node adds.
func (v *VIP) Spec() vip.Config {
	form, _ := vip.ParseForm(v.GARP.Form) // checked when read
	return vip.Config{Address: v.Prefix, Interface: v.Interface, Label: v.Label, Schedule: v.GARP.schedule(), Form: form}
}

func (c *conv) script(path string, r *rawResource) *Script {
	s := &Script{Timeout: c.duration(path+".timeout", r.Timeout, script.DefaultTimeout, false)}
	if !c.required(path + ".path") {
		return s
	}
	if err := script.CheckResource(r.Path); err != nil {
		c.errorf(path+".path", "%v", err)
		return s
	}
	// Heartbeat's haresources form: name::arg1::arg2.
	s.Path, s.Args, _ = script.ParseResource(r.Path)
	return s
}

// failbackMin checks failback_min_healthy against what it counts: the
// reals (primaries and backups) of the services the group's balancers
// activate. A minimum that no count can reach would stop every failback.
func (c *conv) failbackMin(path string, g *Group, services []Service) {
	if !c.ix.has(path) {
		return
	}
	var names []string
	for _, r := range g.Resources {
		if r.Balancer != nil {
			names = append(names, r.Balancer.Services...)
		}
	}
	if len(names) == 0 {
		c.errorf(path, "the group has no balancer resource: the minimum counts the healthy reals of its services")
		return
	}
	reals := 0
	for _, s := range services {
		if slices.Contains(names, s.Name) {
			reals += len(s.Reals) + len(s.Backups)
		}
	}
	if g.FailbackMinHealthy > reals {
		c.errorf(path, "%d is more than the %d reals (primaries and backups) of the group's services %q: auto_failback would never hand the group back", g.FailbackMinHealthy, reals, names)
	}
}
