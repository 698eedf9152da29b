package config

import "strings"

// NeedsSync reports whether any service has state for the persistence
// sync: client-IP persistence (userspace or kernel), or a dr service's
// flow table. Only then does had open the sync sockets, one per heartbeat
// link on its port + 1 (README "Sticky clients across a failover").
func (cfg *Config) NeedsSync() bool {
	for _, s := range cfg.Services {
		if s.Persistent > 0 || s.Method.Flows() {
			return true
		}
	}
	return false
}

// syncPorts reports a heartbeat port whose port + 1, where had opens that
// link's persistence sync, does not exist or is another link's heartbeat
// port: had would refuse to start.
func (c *conv) syncPorts(cfg *Config) {
	if !cfg.NeedsSync() {
		return
	}
	hb := map[uint16]int{} // heartbeat port -> first link index
	for i, l := range cfg.Links {
		if _, ok := hb[l.Port]; !ok {
			hb[l.Port] = i
		}
	}
	for i, l := range cfg.Links {
		switch j, clash := hb[l.Port+1]; {
		case l.Port == 65535:
			// Links that take the port from cluster.port share one
			// root: one error there, naming them all.
			path := c.linkPortPath(i)
			if c.read[path] {
				continue
			}
			var names []string
			for j, o := range cfg.Links {
				if o.Port == 65535 && c.linkPortPath(j) == path {
					names = append(names, o.Name)
				}
			}
			what := "link " + names[0]
			if len(names) > 1 {
				what = "links " + strings.Join(names, ", ")
			}
			c.errorf(path, "heartbeat port 65535 of %s leaves no port + 1 for its persistence sync (a service has persistent or method dr)", what)
		case clash:
			c.errorf(c.linkPortPath(i), "the persistence sync of link %s uses port %d (its heartbeat port + 1, as a service has persistent or method dr), which link %s (%s) uses for heartbeats: give the links ports at least 2 apart",
				l.Name, l.Port+1, cfg.Links[j].Name, c.ix.at(c.linkPortPath(j)))
		}
	}
}

// linkPortPath is the key that sets link i's port: its own port, else
// cluster.port, else the link itself (the default port, 694).
func (c *conv) linkPortPath(i int) string {
	switch p := idx("link", i) + ".port"; {
	case c.ix.has(p):
		return p
	case c.ix.has("cluster.port"):
		return "cluster.port"
	default:
		return idx("link", i)
	}
}
