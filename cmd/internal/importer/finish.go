package importer

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node/serviceconf"
	"github.com/hapair/hapair/proxy"
	proxycheck "github.com/hapair/hapair/proxy/check" // check is the model's type
	"github.com/hapair/hapair/proxy/persist"
)

// Template values for what a source without a cluster (ldirectord.cf,
// ipvsadm rules, monitor.cfg) does not say.
var (
	templateNodes = []string{"lb1", "lb2"}
	templateIface = "eth0"
)

// finish makes the model a valid had.toml: the format parsers convert what
// the source says; finish fills what hapair requires and the source lacks
// (with a placeholder and a warning) and drops what cannot stand (with a
// refusal), so that the output always loads.
func (im *importer) finish() {
	im.finishInterfaces()
	im.finishServices()
	if im.m.template {
		im.template()
	}
	im.finishCluster()
	im.finishGroups()
	im.finishMethods()
	im.fixLinkPorts() // dr is settled by finishMethods
	for _, g := range im.m.groups {
		im.connSync(g) // its port avoids the links' ports, settled by fixLinkPorts
	}
	im.pruneGroups() // connection sync may have left a group empty
}

func (im *importer) finishServices() {
	m := &im.m
	names := newUniqueNames()
	listens := map[string]src{} // as written: a listen that is no address
	bound := listenSet{}
	var keep []*service
	for _, s := range m.services {
		proto := firstNonEmpty(s.protocol, "tcp")
		key := proto + " " + s.listen
		ap, aperr := netip.ParseAddrPort(s.listen)
		if a := ap.Addr(); aperr == nil && !a.IsUnspecified() && !a.IsLoopback() {
			// had.toml refuses it: the address would be a VIP, and ha/vip
			// says which addresses can be one.
			if err := config.VIPAddressError(netip.PrefixFrom(a, a.BitLen())); err != nil {
				im.refusef(s.at, "virtual service %s: no node can hold %s as a VIP (%v); service not imported", s.listen, a, err)
				s.name = ""
				continue
			}
		}
		if first, dup := listens[key]; dup {
			im.refusef(s.at, "%s %s is already the virtual service at %s; this one is not imported", proto, s.listen, first)
			s.name = ""
			continue
		}
		if x, clash := bound.clash(proto, ap); aperr == nil && clash {
			im.refusef(s.at, "%s %s cannot listen beside the virtual service %s at %s (a wildcard address and another on one port cannot both be bound); this one is not imported", proto, s.listen, x.listen, x.at)
			s.name = ""
			continue
		}
		seen := map[string]src{} // across both pools, as had.toml wants
		s.reals = im.uniqueReals(s.reals, "real", s.listen, seen)
		s.backups = im.uniqueReals(s.backups, "backup", s.listen, seen)
		if fb, ok := endpoint(s.fallback, s.listen); ok && aperr == nil && proxy.ForwardsToItself(ap, fb) {
			im.refusef(s.at, "fallback %s is the virtual service %s itself: it would forward to itself; no fallback imported", s.fallback, s.listen)
			s.fallback = ""
		}
		if first, dup := seen[endpointKey(s.fallback, s.listen)]; s.fallback != "" && dup {
			// had.toml refuses it: the fallback serves only when every
			// real and backup is down, so it would be down too.
			im.warnf(s.at, "fallback %s is already a real or backup (%s): it would be down whenever it is needed; no fallback imported", s.fallback, first)
			s.fallback = ""
		}
		if len(s.reals) == 0 && s.fallback == "" {
			im.refusef(s.at, "virtual service %s has no real server that could be imported (and no fallback); service not imported", s.listen)
			s.name = ""
			continue
		}
		listens[key] = s.at
		if aperr == nil {
			bound.add(proto, ap, listenAt{s.listen, s.at})
		}
		s.monitors = im.uniqueMonitors(s)
		im.serviceName(s, names)
		capPersistence(s)
		keep = append(keep, s)
	}
	m.services = keep
}

// capPersistence keeps a persistence timeout within persist.MaxTTL, the
// longest the persistence sync carries to the peer (proxy's rule for
// `persistent`), with a NOTE: ipvsadm -p and ldirectord's persistent take
// any number of seconds.
func capPersistence(s *service) {
	if s.persistent > persist.MaxTTL {
		s.notes = append(s.notes, fmt.Sprintf("NOTE: persistent %v from the source capped at %v, the longest hapair's persistence sync carries to the peer", s.persistent, persist.MaxTTL))
		s.persistent = persist.MaxTTL
	}
}

// serviceName makes s.name one had.toml takes for s's method and no other
// service has (serviceconf.ServiceNameError is the rule; a kernel method's
// nftables objects carry the name), with a NOTE when it had to change the
// name the source gave.
func (im *importer) serviceName(s *service, names *uniqueNames) {
	// The method is settled later (finishMethods); "nat" and "dr" may end
	// up in the kernel, so their names keep to the kernel's alphabet.
	from := s.name
	base := s.name
	why := "is already another service's name"
	if err := serviceconf.ServiceNameError(base, string(s.method)); err != nil {
		base = sanitizeName(base, string(s.method), 60) // room for a "-N" suffix
		why = "is not a valid service name (want A-Z a-z 0-9 . _ -, no '.' with method nat or dr: nftables objects carry the name)"
	}
	s.name = names.take(base, base[:min(len(base), 60)])
	if s.name != from {
		s.notes = append(s.notes, fmt.Sprintf("NOTE: named %s: the name %q derived from the source %s", s.name, from, why))
	}
}

// endpoint reads addr ("ADDR:PORT", or "ADDR" for the service's own
// port) as one endpoint of the service listening on listen; ok is false
// for anything else (a host name the check reports).
func endpoint(addr, listen string) (ap netip.AddrPort, ok bool) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, true
	}
	a, err := netip.ParseAddr(addr)
	vs, verr := netip.ParseAddrPort(listen)
	if err != nil || verr != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, vs.Port()), true
}

// endpointKey is addr as one endpoint (see endpoint), or addr as written,
// so "10.0.0.1" and "10.0.0.1:80" on a port-80 service are the same real.
func endpointKey(addr, listen string) string {
	if ap, ok := endpoint(addr, listen); ok {
		return ap.String()
	}
	return addr
}

func (im *importer) uniqueReals(rs []*real, what, listen string, seen map[string]src) []*real {
	var out []*real
	vs, _ := netip.ParseAddrPort(listen)
	for _, r := range rs {
		if ap, ok := endpoint(r.address, listen); ok && vs.IsValid() && proxy.ForwardsToItself(vs, ap) {
			im.refusef(r.at, "%s %s is the virtual service %s itself: it would forward to itself; not imported", what, r.address, listen)
			continue
		}
		key := endpointKey(r.address, listen)
		if first, dup := seen[key]; dup {
			im.warnf(r.at, "%s %s listed again (first at %s); ignored", what, r.address, first)
			continue
		}
		seen[key] = r.at
		out = append(out, r)
	}
	return out
}

// uniqueMonitors merges the monitors of s that run the same program with
// the same arguments (check.Monitor.Same, the rule had.toml is loaded
// with): they give the same verdict, and Zeus lists a SCRIPT once.
func (im *importer) uniqueMonitors(s *service) []*monitor {
	var out []*monitor
	for _, mo := range s.monitors {
		cm := proxycheck.Monitor{Program: mo.script, Args: mo.args}
		if j := slices.IndexFunc(out, func(o *monitor) bool { return cm.Same(proxycheck.Monitor{Program: o.script, Args: o.args}) }); j >= 0 {
			im.warnf(mo.at, "monitor %s listed again with the same arguments (first at %s); merged", mo.script, out[j].at)
			s.notes = append(s.notes, fmt.Sprintf("NOTE: monitor %s at %s is the one at %s again: merged", mo.script, mo.at, out[j].at))
			continue
		}
		out = append(out, mo)
	}
	return out
}

// template wraps the services of a source that has no cluster in a
// two-node cluster, one heartbeat link and one group holding their virtual
// addresses and a balancer.
func (im *importer) template() {
	m := &im.m
	file := m.cluster.at.file
	c := &m.cluster
	c.name = firstNonEmpty(c.name, "imported")
	c.id = 1
	c.nodes = append([]string(nil), templateNodes...)
	c.authkeys = "authkeys" // next to had.toml: /etc/hapair/authkeys where had looks by default
	c.notes = append(c.notes,
		"TEMPLATE: "+file+" describes services only. This [cluster], the [[link]] and the [[group]] are a",
		"template: set the node names (uname -n), the cluster id (unique on the LAN), the heartbeat",
		"link and the VIPs' prefix and interface, and write authkeys next to this file (mode 0600).")
	im.warnf(src{file, 0}, "no cluster in this file: the [cluster] (nodes %s), [[link]] (mcast on %s) and [[group]] written around its services are a template to edit",
		strings.Join(templateNodes, ", "), templateIface)
	m.links = []*link{{at: src{file, 0}, kind: config.LinkKindMcast, iface: templateIface, group: bcastGroup, notes: []string{"TEMPLATE heartbeat link: use the interface(s) the two nodes share"}}}
	g := &group{name: c.name, preferred: templateNodes[0], notes: []string{"TEMPLATE group: the VIPs the services listen on, then the balancer"}}
	seen := map[netip.Addr]bool{}
	for _, s := range m.services {
		ap, err := netip.ParseAddrPort(s.listen)
		if err != nil || ap.Addr().IsUnspecified() || ap.Addr().IsLoopback() || seen[ap.Addr()] {
			continue
		}
		seen[ap.Addr()] = true
		g.resources = append(g.resources, &resource{at: s.at, kind: config.KindVIP, address: netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()).String(),
			note: "virtual address of " + s.name + "; set its prefix and interface"})
	}
	if m.sync != nil {
		g.resources = append([]*resource{m.sync}, g.resources...)
	}
	if len(m.services) > 0 {
		g.resources = append(g.resources, &resource{kind: config.KindBalancer, svcs: m.services})
	}
	if len(g.resources) > 0 {
		m.groups = []*group{g}
	}
}

func (im *importer) finishCluster() {
	c := &im.m.cluster
	for len(c.nodes) < 2 {
		n := "node" + strconv.Itoa(len(c.nodes)+1)
		for containsStr(c.nodes, n) {
			n += "x"
		}
		im.refusef(src{c.at.file, 0}, "hapair needs at least two nodes and %s names %d: %q added as a placeholder", c.at.file, len(c.nodes), n)
		c.notes = append(c.notes, "PLACEHOLDER node "+n+": name the second node")
		c.nodes = append(c.nodes, n)
	}
	var keep []*link
	for _, l := range im.m.links {
		var missing []string
		for _, n := range c.nodes {
			if _, ok := l.peers[n]; !ok && l.kind == config.LinkKindUcast {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			// One spare: pruneGroups may want a VIP.
			addrs, ok := im.placeholders(len(missing), 1)
			if !ok {
				im.refusef(l.at, "ucast %s: no address for node %s, and too few documentation-range (RFC 5737) placeholders are left for them; link not imported", l.iface, strings.Join(missing, ", "))
				continue
			}
			for i, n := range missing {
				l.peers[n] = addrs[i]
			}
			l.stand = true
			l.notes = append(l.notes, "PLACEHOLDER: no ucast address for "+strings.Join(missing, ", ")+" (a documentation range, RFC 5737): write the node's address on "+l.iface)
			im.refusef(l.at, "ucast %s: no address for node %s (each node's ha.cf names only its peer); a documentation-range (RFC 5737) placeholder stands in: write the real address in the [[link]] peers", l.iface, strings.Join(missing, ", "))
		}
		keep = append(keep, l)
	}
	im.m.links = keep
	if len(im.m.links) == 0 {
		im.refusef(src{c.at.file, 0}, "no heartbeat link (bcast, mcast or ucast line): a template mcast link on %s stands in", templateIface)
		im.m.links = []*link{{at: src{c.at.file, 0}, kind: config.LinkKindMcast, iface: templateIface, group: bcastGroup, notes: []string{"PLACEHOLDER heartbeat link: the source named none"}}}
	}
	im.fixTiming()
}

// fixTiming keeps Heartbeat's timers where hapair accepts them and repairs
// the ones its rules refuse, with a warning saying the rule and the value
// chosen: the rules and the repairs are ha's (config.Cluster.RepairTimers).
// Unset timers stay unset: had derives them (ha.Config.WithDefaults).
func (im *importer) fixTiming() {
	c := &im.m.cluster
	fixed, reps := config.Cluster{Keepalive: c.keepalive, Warntime: c.warntime, Deadtime: c.deadtime, Initdead: c.initdead}.RepairTimers()
	for _, r := range reps {
		at, ok := c.timingAt[r.Timer]
		if !ok {
			at = src{c.at.file, 0}
		}
		im.warnf(at, "%s; %s %s used: %s", r.Reason, r.Timer, r.Now, r.How)
	}
	c.warntime, c.deadtime, c.initdead = fixed.Warntime, fixed.Deadtime, fixed.Initdead
}

func (im *importer) finishGroups() {
	m := &im.m
	svc := map[string]*service{}
	kept := map[*service]bool{}
	hb := im.heartbeatAddrs()
	var keep []*service
	for _, s := range m.services {
		ap, err := netip.ParseAddrPort(s.listen)
		if u, ok := hb[ap.Addr()]; err == nil && ok {
			im.refusef(s.at, "virtual service %s listens on %s, which is %s (%s): hapair would make it a VIP and the group's owner would take it from that node; fix the source; service not imported", s.listen, ap.Addr(), u.what, u.at)
			continue
		}
		svc[s.name] = s
		kept[s] = true
		keep = append(keep, s)
	}
	m.services = keep
	vips := map[netip.Addr]src{}
	vipGroup := map[netip.Addr]*group{}
	for _, g := range m.groups {
		var res []*resource
		for _, r := range g.resources {
			switch r.kind {
			case config.KindBalancer:
				var names []string
				for _, s := range r.svcs {
					if kept[s] {
						names = append(names, s.name)
					}
				}
				if len(names) == 0 {
					continue
				}
				r.services = names
			case config.KindVIP:
				a := netip.MustParsePrefix(r.address).Addr()
				if u, ok := hb[a]; ok {
					// Heartbeat would let the group's owner take the address
					// another node's heartbeat runs on (config refuses it).
					im.refusef(r.at, "VIP %s is %s (%s): the group's owner would take it from that node and cut its heartbeat; fix the source; VIP not imported", a, u.what, u.at)
					continue
				}
				if first, dup := vips[a]; dup {
					im.warnf(r.at, "VIP %s is already a resource at %s; not added twice", a, first)
					continue
				}
				vips[a] = r.at
				vipGroup[a] = g
			}
			res = append(res, r)
		}
		g.resources = res
	}
	im.serviceVIPs(vips, vipGroup, svc)
	im.wildcardSelf(vips, hb)
	im.finishPings(vips, hb)
	im.pruneGroups()
	// Services no balancer activates would never run: a template group
	// activates them, or they are reported.
	active := map[string]bool{}
	for _, g := range m.groups {
		for _, r := range g.resources {
			for _, n := range r.services {
				active[n] = true
			}
		}
	}
	for _, s := range m.services {
		if !active[s.name] {
			im.warnf(s.at, "service %s is activated by no group's balancer", s.name)
		}
	}
}

// pruneGroups drops the groups left with no resource (refused), and puts a
// marked stand-in in place when none is left: had refuses a cluster with
// nothing to hold, and the output must load while the import is
// incomplete. finish runs it after every step that removes resources.
func (im *importer) pruneGroups() {
	m := &im.m
	var keep []*group
	for _, g := range m.groups {
		if len(g.resources) == 0 {
			im.refusef(g.at, "group %s has no resource left; not imported", g.name)
			continue
		}
		keep = append(keep, g)
	}
	m.groups = keep
	if len(m.groups) == 0 {
		file := m.cluster.at.file
		vip, ok := im.placeholders(1, 0) // finishCluster kept one, unless the source used them all
		if !ok {
			// Only a source naming all 762 documentation-range addresses
			// gets here; its import may then not load, and says why.
			vip = []string{"192.0.2.1"}
			im.refusef(src{file, 0}, "the source uses every documentation-range address (RFC 5737): the placeholder VIP below is one of them; change it")
		}
		im.refusef(src{file, 0}, "no resource group could be imported: a placeholder group with a documentation-range (RFC 5737) VIP stands in")
		m.groups = []*group{{name: "placeholder", preferred: m.cluster.nodes[0],
			notes:     []string{"PLACEHOLDER group: nothing could be imported; write the group's resources"},
			resources: []*resource{{kind: config.KindVIP, address: vip[0] + "/32", note: "PLACEHOLDER: a documentation range (RFC 5737)"}}}}
	}
}
