package config

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/fwd"
)

// domain reports the field errors of a domain package's Validate at the
// key paths keyPath maps their paths to. A key this package already found
// wrong while reading it (a value that did not parse, a key the kind does
// not use) is not reported again.
func (c *conv) domain(err error, keyPath func(string) string) {
	for _, fe := range field.All(err) {
		path := keyPath(fe.Path)
		if c.read[path] {
			continue
		}
		msg := fe.Msg
		if fe.First != "" {
			msg += " (first at " + c.ix.at(keyPath(fe.First)).String() + ")"
		}
		pos := c.ix.at(path)
		if p, ok := c.ix.key[path]; ok && fe.Key {
			pos = p
		}
		if !c.has(path, msg) {
			c.errs = append(c.errs, &Error{Pos: pos, Path: path, Msg: msg})
		}
		if c.ruled == nil {
			c.ruled = map[string]bool{}
		}
		c.ruled[path] = true
	}
}

// reported reports whether some error was already reported at path.
func (c *conv) reported(path string) bool {
	return slices.ContainsFunc(c.errs, func(e *Error) bool { return e.Path == path })
}

// has reports whether the same problem was already reported at path (a
// [garp] default found wrong there and again in each vip inheriting it).
func (c *conv) has(path, msg string) bool {
	for _, e := range c.errs {
		if e.Path == path && e.Msg == msg {
			return true
		}
	}
	return false
}

// machine checks the cluster, groups, ping nodes and track checks with
// ha.Config.Validate, and fills the timers from ha.Config.WithDefaults.
func (c *conv) machine(cfg *Config) {
	cl := &cfg.Cluster
	hc := ha.Config{
		Nodes: cl.Nodes, Keepalive: cl.Keepalive, Warntime: cl.Warntime, Deadtime: cl.Deadtime,
		Initdead: cl.Initdead, AutoFailback: cl.AutoFailback, FailbackHold: cl.FailbackHold,
	}
	for _, g := range cfg.Groups {
		hc.Groups = append(hc.Groups, ha.GroupConfig{Name: g.Name, Preferred: g.Preferred(), Priorities: g.Priorities})
	}
	for _, p := range cfg.Pings {
		hc.Checks = append(hc.Checks, ha.CheckConfig{Name: "ping " + p.Address.String(), Weight: uint8(p.Weight), Ping: true})
	}
	for _, t := range cfg.Tracks {
		hc.Checks = append(hc.Checks, ha.CheckConfig{Name: "track " + t.Name, Weight: uint8(t.Weight)})
	}
	// A timer written but unreadable has its own error: ha compares no
	// other timer with the default standing in for it.
	var unknown []string
	for _, t := range []string{"keepalive", "warntime", "deadtime", "initdead", "failback_hold"} {
		if c.read["cluster."+t] {
			unknown = append(unknown, t)
		}
	}
	if c.ix.has("cluster.nodes") {
		c.domain(withoutCheckNames(c.derivedTimers(hc.ValidateWith(unknown...))), func(p string) string { return haKey(p, len(cfg.Pings)) })
	}
	*cl = cl.WithTimerDefaults()
}

// withoutCheckNames drops ha's errors about a check's name ("checks[i]":
// empty or listed twice): config makes the names up ("ping ADDR", "track
// NAME") and reports a repeated ping node or track name, or an empty
// track name, at its key, naming the first.
func withoutCheckNames(err error) error {
	var out []error
	for _, fe := range field.All(err) {
		if rest, ok := strings.CutPrefix(fe.Path, "checks["); ok && strings.Count(rest, "]") == 1 && strings.HasSuffix(rest, "]") {
			continue
		}
		out = append(out, fe)
	}
	return errors.Join(out...)
}

// WithTimerDefaults is c with every timer it leaves unset (0) filled from
// ha.Config.WithDefaults, the timers' one owner: keepalive, warntime,
// deadtime, initdead and failback hold. Load returns them filled; `hactl
// import` asks what an unset timer becomes.
func (c Cluster) WithTimerDefaults() Cluster {
	hc := c.timers().WithDefaults()
	c.Keepalive, c.Warntime, c.Deadtime = hc.Keepalive, hc.Warntime, hc.Deadtime
	c.Initdead, c.FailbackHold = hc.Initdead, hc.FailbackHold
	return c
}

// TimerRepair is one timer Cluster.RepairTimers changed (ha's type, for
// the packages that may not import ha).
type TimerRepair = ha.TimerRepair

// RepairTimers is c with the warntime, deadtime and initdead that the
// timer rules refuse replaced by ones they accept, and what it changed
// and why: ha.Config.RepairTimers, the rules' one owner. `hactl import`
// repairs Heartbeat's timers with it.
func (c Cluster) RepairTimers() (Cluster, []TimerRepair) {
	hc, reps := c.timers().RepairTimers()
	c.Warntime, c.Deadtime, c.Initdead = hc.Warntime, hc.Deadtime, hc.Initdead
	return c, reps
}

// timers is c's timers as ha.Config holds them.
func (c Cluster) timers() ha.Config {
	return ha.Config{Keepalive: c.Keepalive, Warntime: c.Warntime, Deadtime: c.Deadtime,
		Initdead: c.Initdead, FailbackHold: c.FailbackHold}
}

// derivedTimers moves an error about a timer the file does not set to
// the written timer it is derived from (a warntime derived from a short
// deadtime is the deadtime's fault, and [cluster] is no place to look),
// saying which value was derived and how.
func (c *conv) derivedTimers(err error) error {
	var out []error
	for _, fe := range field.All(err) {
		d, ok := ha.Derived[fe.Path]
		if !ok || c.ix.has("cluster."+fe.Path) {
			out = append(out, fe)
			continue
		}
		for _, src := range d.From {
			if c.ix.has("cluster." + src) {
				fe = &field.Error{Path: src, Msg: fmt.Sprintf("%s (unset: %s) %s", fe.Path, d.How, fe.Msg)}
				break
			}
		}
		out = append(out, fe)
	}
	return errors.Join(out...)
}

// haKey maps an ha.Config field path to its key: "nodes[1]" is
// "cluster.nodes[1]", "groups[0].name" is "group[0].name", "checks[i]" is
// the i-th of the pings, then of the tracks.
func haKey(p string, pings int) string {
	if rest, ok := strings.CutPrefix(p, "groups"); ok {
		return "group" + rest
	}
	if rest, ok := strings.CutPrefix(p, "checks["); ok {
		i, tail, _ := strings.Cut(rest, "]")
		n, _ := strconv.Atoi(i)
		if n < pings {
			return idx("ping", n) + tail
		}
		return idx("track", n-pings) + tail
	}
	return "cluster." + p
}

// addrUse is where an address is used, for messages.
type addrUse struct {
	path  string // key path
	what  string // "VIP", "node lb2's heartbeat address on link ucast0"
	group string // the group holding it, for VIPs
	cut   string // for a node's address: what it carries ("heartbeat")
}

// ownAddrs maps each node's own addresses (heartbeat, conntrack-sync,
// BGP) to their first use: a group holding one of them would take it
// from that node.
func ownAddrs(cfg *Config) map[netip.Addr]addrUse {
	own := map[netip.Addr]addrUse{}
	add := func(a netip.Addr, u addrUse) {
		if _, dup := own[a]; !dup {
			own[a] = u
		}
	}
	for i, l := range cfg.Links {
		for _, n := range slices.Sorted(maps.Keys(l.Peers)) {
			add(l.Peers[n], addrUse{path: idx("link", i) + ".peers." + n, what: fmt.Sprintf("node %s's heartbeat address on link %s", n, l.Name), cut: "heartbeat"})
		}
	}
	for rpath, r := range cfg.resources() {
		if r.ConntrackSync == nil {
			continue
		}
		for i, n := range cfg.Cluster.Nodes {
			if a, ok := r.ConntrackSync.Addresses[n]; ok {
				add(a, addrUse{path: idx(rpath+".addresses", i), what: fmt.Sprintf("node %s's conntrack-sync address", n), cut: "connection sync"})
			}
		}
	}
	if cfg.BGP != nil {
		for _, n := range slices.Sorted(maps.Keys(cfg.BGP.Nodes)) {
			add(cfg.BGP.Nodes[n].Addr(), addrUse{path: "bgp.nodes." + n, what: fmt.Sprintf("node %s's address on the BGP neighbours' network", n), cut: "BGP sessions"})
		}
	}
	return own
}

// crossChecks compares sections with each other: VIPs with VIPs and with
// the nodes' heartbeat addresses, service listen addresses with VIPs, reals
// with the service itself, ping nodes with the cluster's own addresses, and
// heartbeat ports with udp services.
func (c *conv) crossChecks(cfg *Config) {
	nodeAddrs := ownAddrs(cfg)
	c.linkBinds(cfg.Links)
	c.syncBinds(cfg)
	c.syncPorts(cfg)
	vips := map[netip.Addr]addrUse{}
	for rpath, r := range cfg.resources() {
		if r.VIP == nil || !r.VIP.Prefix.IsValid() {
			continue
		}
		a, path := r.VIP.Prefix.Addr(), rpath+".address"
		if u, ok := nodeAddrs[a]; ok {
			c.errorf(path, "VIP %s is %s (%s): the group's owner would take it from that node and cut its %s", a, u.what, c.ix.at(u.path), u.cut)
		}
		if u, dup := vips[a]; dup {
			c.errorf(path, "VIP %s is already a resource at %s: two owners would fight over it", a, c.ix.at(u.path))
			continue
		}
		vips[a] = addrUse{path: path, what: fmt.Sprintf("a VIP of group %q", r.group.Name), group: r.group.Name}
	}
	c.bgpAddresses(cfg, nodeAddrs, vips)
	for i, p := range cfg.Pings {
		for _, m := range []map[netip.Addr]addrUse{vips, nodeAddrs} {
			if u, ok := m[p.Address]; ok {
				c.errorf(idx("ping", i)+".address", "%s is %s (%s): it answers for the cluster itself, so it breaks no tie", p.Address, u.what, c.ix.at(u.path))
			}
		}
	}
	activators := activators(cfg)
	type vipIface struct{ iface, path string }
	vipIfaces := map[netip.Addr]vipIface{} // a vip resource's interface, where written
	for rpath, r := range cfg.resources() {
		if r.VIP != nil && r.VIP.Interface != "" {
			vipIfaces[r.VIP.Prefix.Addr()] = vipIface{r.VIP.Interface, rpath + ".interface"}
		}
	}
	for i, s := range cfg.Services {
		path := idx("service", i)
		a := s.Listen.Addr()
		if !a.IsValid() {
			continue
		}
		act, activated := activators[s.Name]
		if !activated && s.Name != "" && !c.unsure.kinds && !c.reported(path+".name") {
			c.errorf(path+".name", "service %q is in no balancer resource, so no node would ever activate it: add it to the services of the balancer of the group whose VIP it listens on", s.Name)
		}
		u, isVIP := vips[a]
		if !isVIP && !a.IsUnspecified() && !a.IsLoopback() && !c.unsure.kinds && !c.unsure.vips {
			c.errorf(path+".listen", "%s is not a VIP of any group; listen on a group's vip address, a loopback or 0.0.0.0/[::]", a)
		}
		if isVIP && activated && act.group != u.group {
			c.errorf(path+".listen", "%s is %s (%s), but group %q activates the service (%s): whenever the two groups are on different nodes, the balancer would take traffic on the node that does not hold the address; listen on a VIP of group %q, or activate the service in group %q's balancer",
				a, u.what, c.ix.at(u.path), act.group, c.ix.at(act.path), act.group, u.group)
		}
		if a.IsUnspecified() {
			c.wildcardSelf(path, s, vips, nodeAddrs)
		}
		if v, ok := vipIfaces[a]; ok && s.Method == fwd.DR && s.Interface != "" && v.iface != "" && v.iface != s.Interface {
			c.errorf(path+".interface", "%q, but the VIP %s it listens on is added on %s (%s): clients' packets for it arrive there, and dr forwards only what arrives on its interface; write interface = %q",
				s.Interface, a, v.iface, c.ix.at(v.path), v.iface)
		}
		if s.Protocol == "udp" {
			c.heartbeatPorts(path, s, cfg)
		}
	}
}

// bgpAddresses adds the addresses bgp resources bind on lo to vips
// (bgpChecks refuses one that is also a vip resource), refusing one that
// the cluster uses otherwise: every node holding the group binds it
// locally, so a node's heartbeat or BGP address, or a router's, would be
// cut off, and a second group announcing it would remove it under the
// first.
func (c *conv) bgpAddresses(cfg *Config, nodeAddrs, vips map[netip.Addr]addrUse) {
	routers := map[netip.Addr]int{} // neighbour address -> its index
	if b := cfg.BGP; b != nil {
		for i, nb := range b.Neighbors {
			routers[nb.Address] = i
		}
	}
	for rpath, r := range cfg.resources() {
		if r.BGP == nil {
			continue
		}
		for k, a := range r.BGP.Addresses {
			path := idx(rpath+".addresses", k)
			if u, ok := nodeAddrs[a]; ok {
				c.errorf(path, "%s is %s (%s): every node holding group %q binds it on lo, which would cut that node's %s", a, u.what, c.ix.at(u.path), r.group.Name, u.cut)
			}
			if i, ok := routers[a]; ok {
				c.errorf(path, "%s is the address of BGP neighbour %d (%s): every node holding group %q binds it on lo, and would no longer reach that router", a, i, c.ix.at(idx("bgp.neighbors", i)+".address"), r.group.Name)
			}
			u, ok := vips[a]
			switch {
			case !ok:
				vips[a] = addrUse{path: path, what: fmt.Sprintf("a VIP of group %q (bgp)", r.group.Name), group: r.group.Name}
			case strings.HasSuffix(u.what, "(bgp)"):
				c.errorf(path, "%s is already announced by group %q (%s): each group adds and removes it on lo by itself, so the two would fight over it", a, u.group, c.ix.at(u.path))
			}
		}
	}
}

// activators maps each service name to the balancer naming it (the
// group and the key path of the name in its services).
func activators(cfg *Config) map[string]addrUse {
	out := map[string]addrUse{}
	for rpath, r := range cfg.resources() {
		if r.Balancer == nil {
			continue
		}
		for k, s := range r.Balancer.Services {
			if _, dup := out[s]; !dup {
				out[s] = addrUse{path: idx(rpath+".services", k), group: r.group.Name}
			}
		}
	}
	return out
}

// placed is a resource with the group it belongs to.
type placed struct {
	Resource
	group *Group
}

// resources yields every resource of every group with its key path,
// "group[0].resources[2]", in file order.
func (cfg *Config) resources() iter.Seq2[string, placed] {
	return func(yield func(string, placed) bool) {
		for i := range cfg.Groups {
			g := &cfg.Groups[i]
			for j, r := range g.Resources {
				if !yield(idx(idx("group", i)+".resources", j), placed{r, g}) {
					return
				}
			}
		}
	}
}

// wildcardSelf reports reals, backups and a fallback that reach a service
// listening on the wildcard address through one of the cluster's own
// addresses (a VIP or a node's heartbeat address) on the same port:
// the balancer's rules catch loopback ones, only the config
// knows the rest.
func (c *conv) wildcardSelf(path string, s Service, own ...map[netip.Addr]addrUse) {
	self := func(key string, ap netip.AddrPort) {
		if ap.Port() != s.Listen.Port() {
			return
		}
		for _, m := range own {
			if u, ok := m[ap.Addr()]; ok {
				c.errorf(key, "%s is the service itself: it listens on %s, and %s is %s (%s); it would forward to itself", ap, s.Listen, ap.Addr(), u.what, c.ix.at(u.path))
				return
			}
		}
	}
	for j, r := range s.Reals {
		self(idx(path+".reals", j)+".address", r.Address)
	}
	for j, r := range s.Backups {
		self(idx(path+".backups", j)+".address", r.Address)
	}
	if s.Fallback.IsValid() {
		self(path+".fallback", s.Fallback)
	}
}

// adminPort reports a tcp service of the userspace balancer whose
// listener would take the admin listener's address and port: had binds
// both at start (the balancer's on every node, warm), so the second fails.
// nat and dr services bind nothing.
func (c *conv) adminPort(cfg *Config) {
	a := cfg.Admin.Listen
	if !a.IsValid() {
		return
	}
	for i, s := range cfg.Services {
		if s.Method == fwd.Proxy && s.Protocol == "tcp" && s.Listen.IsValid() && c.rules.Overlap(s.Listen, a) {
			c.errorf("admin.listen", "%s is also where service %q listens (%s): had binds both at start; pick another port for one of them", a, s.Name, c.ix.at(idx("service", i)+".listen"))
			return
		}
	}
}

// heartbeatPorts reports a udp service that would bind a heartbeat link's
// address and port, or its persistence sync's (port + 1, opened when
// cfg.NeedsSync): an mcast link binds its group address, a ucast one each
// node's own address (ha/link's Open); a wildcard listen takes them all.
func (c *conv) heartbeatPorts(path string, s Service, cfg *Config) {
	sync := cfg.NeedsSync()
	for i, l := range cfg.Links {
		var what string
		switch port, at := s.Listen.Port(), c.ix.at(idx("link", i)); {
		case port == l.Port:
			what = fmt.Sprintf("port %d of heartbeat link %s (%s)", port, l.Name, at)
		case sync && l.Port < 65535 && port == l.Port+1:
			what = fmt.Sprintf("port %d of link %s's persistence sync (its heartbeat port + 1; %s)", port, l.Name, at)
		default:
			continue
		}
		clash := l.Kind == link.KindMcast && c.rules.Overlap(s.Listen, netip.AddrPortFrom(l.Group, s.Listen.Port()))
		for _, a := range l.Peers {
			clash = clash || c.rules.Overlap(s.Listen, netip.AddrPortFrom(a, s.Listen.Port()))
		}
		if clash {
			c.errorf(path+".listen", "udp %s takes %s: pick another port for one of them", s.Listen, what)
			return
		}
	}
}

// syncBinds reports a conntrack-sync resource whose address and port on
// some node is also a ucast heartbeat link's there (or its persistence
// sync's, port + 1, when cfg.NeedsSync), or where a udp
// service listens: had holds those sockets from start, so conntrackd
// could not bind it at a takeover.
func (c *conv) syncBinds(cfg *Config) {
	taken := map[netip.AddrPort]string{} // -> what, with its position
	for i, l := range cfg.Links {
		if l.Kind != link.KindUcast {
			continue
		}
		for _, n := range slices.Sorted(maps.Keys(l.Peers)) {
			ap := netip.AddrPortFrom(l.Peers[n], l.Port)
			at := c.ix.at(idx("link", i) + ".peers." + n)
			taken[ap] = fmt.Sprintf("node %s's heartbeat address and port on link %s (%s)", n, l.Name, at)
			if cfg.NeedsSync() && l.Port < 65535 {
				ap = netip.AddrPortFrom(l.Peers[n], l.Port+1)
				taken[ap] = fmt.Sprintf("node %s's persistence sync address and port on link %s (its heartbeat port + 1; %s)", n, l.Name, at)
			}
		}
	}
	// Each conntrack-sync runs its own conntrackd (under the state
	// directory, per group), so two on one address and port cannot both
	// bind it on a node owning both groups.
	syncs := map[netip.AddrPort]string{}
	for path, r := range cfg.resources() {
		cs := r.ConntrackSync
		if cs == nil {
			continue
		}
		mine := map[netip.AddrPort]string{}
		for k, n := range cfg.Cluster.Nodes {
			a, ok := cs.Addresses[n]
			if !ok {
				continue
			}
			ap := netip.AddrPortFrom(a, cs.Port)
			what, clash := taken[ap]
			for si, s := range cfg.Services {
				if !clash && s.Protocol == "udp" && s.Method == fwd.Proxy && s.Listen.IsValid() && c.rules.Overlap(s.Listen, ap) {
					what, clash = fmt.Sprintf("where udp service %q listens (%s)", s.Name, c.ix.at(idx("service", si)+".listen")), true
				}
			}
			if clash {
				c.errorf(idx(path+".addresses", k), "%s is also %s: conntrackd could not bind it at a takeover; give conntrack-sync another port", ap, what)
				continue
			}
			key := idx(path+".addresses", k)
			if first, dup := syncs[ap]; dup {
				c.errorf(key, "%s is also %s: two conntrackd could not both bind it; give one another port", ap, first)
			}
			mine[ap] = fmt.Sprintf("node %s's address and port of the conntrack-sync at %s", n, c.ix.at(key))
		}
		for ap, what := range mine { // any order: a map is merged
			if _, dup := syncs[ap]; !dup {
				syncs[ap] = what
			}
		}
	}
}

// sameLink reports link i when an earlier link is the same path (kind,
// interface, group or peers, and port), once at the link, and reports
// whether it did: a repeated link adds no path and only sends every
// heartbeat twice (a Heartbeat ha.cf with `bcast eth1` twice has one
// medium's worth of paths; hactl import keeps one), and for ucast the
// second could not bind.
func (c *conv) sameLink(links []Link, i int) bool {
	l := links[i]
	j := slices.IndexFunc(links[:i], func(o Link) bool {
		return o.Kind == l.Kind && o.Interface == l.Interface && o.Group == l.Group && o.Port == l.Port && maps.Equal(o.Peers, l.Peers)
	})
	if j < 0 || l.Kind == "" {
		return false
	}
	how := fmt.Sprintf("mcast on %s, group %s, port %d", l.Interface, l.Group, l.Port)
	if l.Kind == link.KindUcast {
		how = fmt.Sprintf("ucast to the same peers, port %d", l.Port)
		if l.Interface != "" {
			how = fmt.Sprintf("ucast on %s to the same peers, port %d", l.Interface, l.Port)
		}
	}
	c.errorf(idx("link", i), "the same heartbeat link as link[%d] (%s): %s; a second copy adds no path, it only sends every heartbeat twice: remove it", j, c.ix.at(idx("link", j)), how)
	return true
}

// linkBinds reports two ucast links that would bind the same node address
// and port: ha/link binds ucast sockets exclusively, so the second would
// fail at start.
func (c *conv) linkBinds(links []Link) {
	first := map[netip.AddrPort]string{}
	for i, l := range links {
		if dup := c.sameLink(links, i); dup || l.Kind != link.KindUcast {
			continue
		}
		for _, n := range slices.Sorted(maps.Keys(l.Peers)) {
			ap, path := netip.AddrPortFrom(l.Peers[n], l.Port), idx("link", i)+".peers."+n
			if f, dup := first[ap]; dup {
				c.errorf(path, "%s is already bound by the link at %s: two ucast links cannot share an address and port; give one another port", ap, c.ix.at(f))
				continue
			}
			first[ap] = path
		}
	}
}
