package config

import "slices"

// A key written in the file that the rest of the config makes moot is an
// error, as a key the element's kind does not take is: a user who sets
// failback_hold expects failbacks to wait for it, and had would silently
// never read it. Each rule below names the key and the setting that makes
// it moot. A key overridden everywhere it could apply ([cluster]'s port
// when every link sets its own) is not one of them: it documents the
// default the overrides depart from.

// moot reports a key at path that has no effect, unless it was already
// found wrong.
func (c *conv) moot(path, format string, args ...any) {
	if !c.read[path] {
		c.keyErrorf(path, format, args...)
	}
}

// mootGroupKeys reports the failback keys of group g, at path, that nothing
// reads: in an active-active group (not in the ownership machine, so it
// never fails back) and with auto_failback off for the group. It returns
// whether it reported failback_min_healthy.
func (c *conv) mootGroupKeys(path string, g *Group) bool {
	minPath := path + ".failback_min_healthy"
	if g.ActiveActive {
		for _, k := range []string{"auto_failback", "failback_min_healthy"} {
			if c.ix.has(path + "." + k) {
				c.moot(path+"."+k, "key %q is not used by mode %q: every healthy node holds the group, so it never fails back", k, "active-active")
			}
		}
		return c.ix.has(minPath)
	}
	if c.ix.has(minPath) && !g.AutoFailback {
		c.moot(minPath, "key %q has no effect: auto_failback is off for group %q (%s); it counts the healthy reals only before a failback", "failback_min_healthy", g.Name, c.autoFailbackFrom(path))
		return true
	}
	return false
}

// autoFailbackFrom says where a group's auto_failback comes from.
func (c *conv) autoFailbackFrom(gpath string) string {
	switch {
	case c.ix.has(gpath + ".auto_failback"):
		return "auto_failback = false at " + c.ix.at(gpath+".auto_failback").String()
	case c.ix.has("cluster.auto_failback"):
		return "cluster.auto_failback = false at " + c.ix.at("cluster.auto_failback").String()
	}
	return "cluster.auto_failback defaults to false, Heartbeat's auto_failback off"
}

// mootKeys reports the keys of cfg that the rest of it makes moot (the
// groups' own are mootGroupKeys').
func (c *conv) mootKeys(cfg *Config) {
	if c.ix.has("cluster.failback_hold") && len(cfg.Groups) > 0 {
		used, passive := false, false
		for _, g := range cfg.Groups {
			used = used || g.AutoFailback && !g.ActiveActive
			passive = passive || !g.ActiveActive
		}
		switch {
		case !passive:
			c.moot("cluster.failback_hold", "key %q has no effect: every group is active-active, held by every healthy node, so none fails back", "failback_hold")
		case !used:
			c.moot("cluster.failback_hold", "key %q has no effect: auto_failback is off in every group (set auto_failback = true in [cluster] or in a group)", "failback_hold")
		}
	}
	if c.ix.has("admin.allow_remote") && !c.ix.has("admin.listen") {
		c.moot("admin.allow_remote", "key %q has no effect: the admin listener is off (admin.listen is not set)", "allow_remote")
	}
	if c.ix.has("bgp") && !hasKind(cfg, KindBGP) && !c.unsure.kinds {
		c.errorf("bgp", "no group has a bgp resource, so had runs no BIRD and [bgp] has no effect: add a bgp resource to a group, or remove [bgp]")
	}
	c.mootGARP(cfg)
}

func hasKind(cfg *Config, kind string) bool {
	_, ok := firstOfKind(cfg, kind)
	return ok
}

// garpMoot is why key of a vip's merged GARP schedule has no effect for
// that vip, "" when it has one.
func garpMoot(key string, v *VIP) string {
	switch {
	case key == "interval" && v.GARP.Count == 1:
		return "count = 1 sends one packet per burst, so there is no gap between packets"
	case key == "form" && v.Prefix.Addr().Is6():
		return "an IPv6 VIP is announced by unsolicited neighbour advertisements, which have no ARP request or reply form"
	}
	return ""
}

// mootGARP reports [garp] keys when no vip uses the table, and the garp
// keys of a vip (its own, or [garp]'s for every vip that inherits them)
// that its schedule or address makes moot.
func (c *conv) mootGARP(cfg *Config) {
	keys := c.ix.childKeys("garp")
	if c.unsure.kinds {
		return // which resources are vips is unknown
	}
	if !hasKind(cfg, KindVIP) {
		for _, k := range keys {
			c.moot("garp."+k, "key %q has no effect: no group has a vip resource ([garp] is the gratuitous ARP schedule of vip resources)", k)
		}
		return
	}
	inherited := map[string][]string{} // [garp] key -> why it is moot for each vip inheriting it
	for path, r := range cfg.resources() {
		if r.VIP == nil {
			continue
		}
		for _, k := range []string{"interval", "form"} {
			why := garpMoot(k, r.VIP)
			switch {
			case c.ix.has(path + ".garp." + k):
				if why != "" {
					c.moot(path+".garp."+k, "key %q has no effect: %s", k, why)
				}
			case c.ix.has("garp." + k):
				inherited[k] = append(inherited[k], why)
			}
		}
	}
	for _, k := range keys {
		if whys := inherited[k]; len(whys) > 0 && !slices.Contains(whys, "") {
			c.moot("garp."+k, "key %q has no effect: in every vip that takes it from [garp], %s", k, whys[0])
		}
	}
}

// serviceKeyUse says which [[service]] keys only some services use: a
// key is used where setting (method, protocol or mode) has value; a key
// with two rows needs both, and the first row it fails gives the reason.
var serviceKeyUse = []struct{ key, setting, value, why string }{
	{"interface", "method", "dr", "only dr takes the interface its VIP's packets arrive on"},
	{"mode", "method", "proxy", "the kernel forwards packets and has no l4 or http mode"},
	{"backups", "method", "proxy", "the kernel has one pool of reals; backups and monitors need method \"proxy\""},
	{"monitors", "method", "proxy", "the kernel has one pool of reals; backups and monitors need method \"proxy\""},
	{"connect_timeout", "method", "proxy", "the kernel forwards packets and opens no connection to the reals"},
	{"connect_timeout", "protocol", "tcp", "datagrams are forwarded without a connection"},
	{"idle_timeout", "method", "proxy", "the kernel's conntrack timeouts end its flows"},
	{"maxconn", "method", "proxy", "the kernel forwards packets with no per-service bound"},
	{"maxconn", "protocol", "tcp", "udp services are bounded by max_flows"},
	{"max_flows", "method", "proxy", "the kernel keeps its flows in conntrack"},
	{"max_flows", "protocol", "udp", "it bounds a udp service's flow table"},
	{"request_timeout", "mode", "http", "it bounds an HTTP request's head"},
	{"body_timeout", "mode", "http", "it bounds an HTTP request's body"},
}

// mootServiceKeys reports the keys of the service at path that its
// method, protocol or mode does not use.
func (c *conv) mootServiceKeys(path string, s *Service) {
	settings := map[string]string{"method": s.Method, "protocol": s.Protocol, "mode": s.Mode}
	for _, u := range serviceKeyUse {
		kpath := path + "." + u.key
		// mode = "http" with a kernel method has its own error.
		if !c.ix.has(kpath) || c.read[kpath] || u.key == "mode" && s.Mode == "http" {
			continue
		}
		if v := settings[u.setting]; v != u.value {
			c.keyErrorf(kpath, "key %q is not used by %s %q: %s", u.key, u.setting, v, u.why)
		}
	}
}

// habits warns about two settings that make no difference where they are
// written, but that ldirectord's and ipvsadm's users write by habit (and
// hactl import carries over, as deploy/sip-pair.toml has them): refusing
// them would refuse every such import, so they are warnings, not errors.
func (c *conv) habits(cfg *Config) {
	ignores := map[string]string{
		"rr": "takes every real with a weight above 0 in turn, as IPVS rr does; wrr weighs reals",
		"lc": "picks the real with the fewest connections whatever its weight above 0, as IPVS lc does; wlc weighs reals",
	}
	for i, s := range cfg.Services {
		path := idx("service", i)
		if s.Quiescent && s.Persistent == 0 {
			c.warnf(path+".quiescent", "quiescent = true makes no difference without persistent: a failed real takes no new connections either way and its established ones finish; it keeps persistent clients on their real until it is back")
		}
		why, ok := ignores[s.Scheduler]
		if !ok {
			continue
		}
		for _, pool := range []struct {
			key   string
			reals []Real
		}{{"reals", s.Reals}, {"backups", s.Backups}} {
			for j, r := range pool.reals {
				if r.Weight > 1 {
					c.warnf(idx(path+"."+pool.key, j)+".weight", "weight %d makes no difference under scheduler %q, which %s", r.Weight, s.Scheduler, why)
				}
			}
		}
	}
}
