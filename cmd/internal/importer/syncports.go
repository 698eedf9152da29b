package importer

import "fmt"

// fixSyncPorts moves the heartbeat port of a link whose persistence sync
// would have no port, as config.Load requires when a service has
// persistent or method dr (Config.NeedsSync): had opens each link's sync
// on its heartbeat port + 1, so 65535 has none, and ports one apart (694
// and 695, fine for Heartbeat) give one link's sync the other's heartbeat
// port. Links are taken in order; one that clashes with a link before it
// gets the lowest port from 694 up that is no link's port and not next to
// one, with a warning. Links sharing a port keep sharing it.
func (im *importer) fixSyncPorts() {
	if !im.needsSync() {
		return
	}
	m := &im.m
	port := func(l *link) int {
		switch {
		case l.port != 0:
			return l.port
		case m.cluster.port != 0:
			return m.cluster.port
		}
		return 694 // config's default, IANA ha-cluster
	}
	kept := map[int]src{} // port -> the first link kept on it
	moved := map[int]int{}
	for i, l := range m.links {
		p := port(l)
		if q, ok := moved[p]; ok {
			l.port = q
			im.warnf(l.at, "heartbeat port %d: moved to %d with the link before it on that port (hapair's persistence sync takes the heartbeat port + 1)", p, q)
			continue
		}
		why := ""
		if p == 65535 {
			why = "65535 has none"
		} else if at, clash := kept[p+1]; clash {
			why = fmt.Sprintf("%d is the heartbeat port of the link at %s", p+1, at)
		} else if at, clash := kept[p-1]; clash {
			why = fmt.Sprintf("the link at %s, on port %d, has its sync on %d", at, p-1, p)
		}
		if why == "" {
			if _, ok := kept[p]; !ok {
				kept[p] = l.at
			}
			continue
		}
		taken := map[int]bool{}
		// any order: a set is built
		for q := range kept {
			taken[q] = true
		}
		for _, o := range m.links[i+1:] {
			if port(o) != p {
				taken[port(o)] = true
			}
		}
		q := 694
		for taken[q-1] || taken[q] || taken[q+1] {
			q++
		}
		if q >= 65535 {
			im.refusef(l.at, "heartbeat port %d: hapair's persistence sync takes the heartbeat port + 1 (a service has persistent or method dr), and %s; no free port pair is left: set the link's port by hand", p, why)
			continue
		}
		moved[p], l.port, kept[q] = q, q, l.at
		im.warnf(l.at, "heartbeat port %d: hapair's persistence sync takes the heartbeat port + 1 (a service has persistent or method dr), and %s; port %d used (the same on both nodes: open %d and %d in the firewall)", p, why, q, q, q+1)
	}
}

// needsSync reports whether some service has persistence or runs as
// kernel dr: had then runs a persistence sync beside each heartbeat link
// (config.Config.NeedsSync).
func (im *importer) needsSync() bool {
	for _, s := range im.m.services {
		if s.persistent > 0 || s.kernel && s.method == "dr" {
			return true
		}
	}
	return false
}
