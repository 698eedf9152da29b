package importer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

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
	port := m.linkPort
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

// linkPort is l's heartbeat port as had.toml will give it: its own, else
// cluster.port, else config's default (694, IANA ha-cluster).
func (m *model) linkPort(l *link) int {
	switch {
	case l.port != 0:
		return l.port
	case m.cluster.port != 0:
		return m.cluster.port
	}
	return 694
}

// conntrackPort is the port for a conntrack-sync resource: conntrackd's
// customary 3780 unless it is a ucast link's heartbeat port, or its
// persistence sync's (port + 1, when needsSync): config.Load refuses that
// on the nodes' addresses, as had holds those sockets and conntrackd could
// not bind at a takeover. Then the next port free of every ucast link's,
// with a warning at the line at; 0 is the default.
func (im *importer) conntrackPort(at src) int {
	taken := map[int]bool{}
	var ports []string
	for _, l := range im.m.links {
		if l.kind != "ucast" {
			continue
		}
		p := im.m.linkPort(l)
		taken[p] = true
		if im.needsSync() {
			taken[p+1] = true
		}
		if s := strconv.Itoa(p); !slices.Contains(ports, s) {
			ports = append(ports, s)
		}
	}
	const customary = 3780
	p := customary
	for taken[p] {
		p++
	}
	if p == customary {
		return 0
	}
	sync := ""
	if im.needsSync() {
		sync = " and their persistence sync on the next port"
	}
	im.warnf(at, "conntrack-sync: port %d, conntrackd's customary one, is taken by the heartbeat links (ports %s%s); port %d used", customary, strings.Join(ports, ", "), sync, p)
	return p
}
