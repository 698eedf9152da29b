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
				c.moot(path+"."+k, "key %q is not used by mode %q: every healthy node holds the group, so it never fails back", k, ModeActiveActive)
			}
		}
		// Every node starts it with had (node.startLocal): no owner is
		// picked, so neither a preference nor priorities rank the nodes.
		if k := "preferred"; c.ix.has(path + "." + k) {
			c.moot(path+"."+k, "key %q is not used by mode %q: every healthy node holds the group, so no node is preferred", k, ModeActiveActive)
		}
		if k := "priorities"; c.ix.has(path + "." + k) {
			c.moot(path+"."+k, "key %q is not used by mode %q: every healthy node holds the group, so no priority picks an owner", k, ModeActiveActive)
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
