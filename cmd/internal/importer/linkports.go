package importer

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
)

// fixLinkPorts moves the heartbeat port of a link that config.Load would
// refuse beside the services: a udp service binding the link's address on
// its port, or on its persistence sync's (port + 1, opened when a service
// has persistent or method dr, Config.NeedsSync), and with that sync a
// port of 65535 (no port + 1) or ports one apart (694 and 695, fine for
// Heartbeat: one link's sync would take the other's heartbeat port).
// Links are taken in order; one that clashes gets the lowest port from 694
// up that is no link's or udp service's port and not next to one, with a
// warning. Links sharing a port keep sharing it. Moving the heartbeat
// beats dropping a service: both nodes get the port from this file.
func (im *importer) fixLinkPorts() {
	m := &im.m
	sync := im.needsSync()
	port := m.linkPort
	kept := map[int]src{} // port -> the first link kept on it
	moved := map[int]int{}
	for i, l := range m.links {
		p := port(l)
		if q, ok := moved[p]; ok {
			l.port = q
			im.warnf(l.at, "heartbeat port %d: moved to %d with the link before it on that port", p, q)
			continue
		}
		why := ""
		if sync {
			const need = "hapair's persistence sync takes the heartbeat port + 1 (a service has persistent or method dr), and "
			if p == 65535 {
				why = need + "65535 has none"
			} else if at, clash := kept[p+1]; clash {
				why = need + fmt.Sprintf("%d is the heartbeat port of the link at %s", p+1, at)
			} else if at, clash := kept[p-1]; clash {
				why = need + fmt.Sprintf("the link at %s, on port %d, has its sync on %d", at, p-1, p)
			}
		}
		if why == "" {
			why = im.udpOnLink(l, p, sync)
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
		for _, s := range m.services {
			if ap, err := netip.ParseAddrPort(s.listen); err == nil && s.protocol == "udp" {
				taken[int(ap.Port())] = true
			}
		}
		q := 694
		for taken[q-1] || taken[q] || taken[q+1] {
			q++
		}
		if q >= 65535 {
			im.refusef(l.at, "heartbeat port %d: %s; no free port pair is left: set the link's port by hand", p, why)
			continue
		}
		moved[p], l.port, kept[q] = q, q, l.at
		im.warnf(l.at, "heartbeat port %d: %s; port %d used (the same on both nodes: open %d and %d in the firewall)", p, why, q, q, q+1)
	}
}

// udpOnLink says which udp service binds link l's address on its port p
// (or on p + 1 with sync), as config.Load finds it: an mcast link binds
// its group address, a ucast one each node's own address; "" when none.
func (im *importer) udpOnLink(l *link, p int, sync bool) string {
	addrs := []string{l.group}
	for _, n := range slices.Sorted(maps.Keys(l.peers)) {
		addrs = append(addrs, l.peers[n])
	}
	for _, s := range im.m.services {
		ap, err := netip.ParseAddrPort(s.listen)
		if err != nil || s.protocol != "udp" {
			continue
		}
		what := ""
		switch int(ap.Port()) {
		case p:
			what = "its heartbeat"
		case p + 1:
			if !sync {
				continue
			}
			what = "its persistence sync (a service has persistent or method dr)"
		default:
			continue
		}
		for _, a := range addrs {
			if la, err := netip.ParseAddr(a); err == nil && proxy.Overlap(ap, netip.AddrPortFrom(la, ap.Port())) {
				return fmt.Sprintf("udp service %s (%s) listens on %s, where the link binds %s", s.name, s.at, s.listen, what)
			}
		}
	}
	return ""
}

// needsSync reports whether some service has persistence or runs as
// kernel dr: had then runs a persistence sync beside each heartbeat link
// (config.Config.NeedsSync).
func (im *importer) needsSync() bool {
	for _, s := range im.m.services {
		if s.persistent > 0 || s.kernel && s.method.Flows() {
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
// customary 3780 unless it is a ucast link's heartbeat port, its
// persistence sync's (port + 1, when needsSync), or an earlier
// conntrack-sync's: config.Load refuses those on the nodes' addresses, as
// had holds the links' sockets and each conntrack-sync runs its own
// conntrackd, so one could not bind at a takeover. Then the next port free
// of them, with a warning at the line at; 0 is the default.
func (im *importer) conntrackPort(at src) int {
	const customary = 3780
	taken := map[int]string{}
	for _, l := range im.m.links {
		if l.kind != config.LinkKindUcast {
			continue
		}
		p := im.m.linkPort(l)
		taken[p] = fmt.Sprintf("the heartbeat link at %s", l.at)
		if im.needsSync() {
			taken[p+1] = fmt.Sprintf("the persistence sync of the heartbeat link at %s (its port + 1)", l.at)
		}
	}
	for _, g := range im.m.groups {
		for _, r := range g.resources {
			if r.kind == config.KindConntrackSync {
				taken[cmp.Or(r.port, customary)] = fmt.Sprintf("the conntrack-sync at %s", r.at)
			}
		}
	}
	p := customary
	for taken[p] != "" {
		p++
	}
	if p != customary {
		im.warnf(at, "conntrack-sync: port %d, conntrackd's customary one, is taken by %s; port %d used", customary, taken[customary], p)
		return p
	}
	return 0
}
