package importer

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/unicast"
)

// bcastGroup is the multicast group a Heartbeat bcast line becomes: hapair
// has no broadcast links, and an administratively scoped group (RFC 2365)
// on the same interface reaches the same LAN.
const bcastGroup = "239.255.0.94"

// hacfIgnored are the ha.cf(5) directives hapair does not carry over, each
// with the reason given in the warning.
var hacfIgnored = map[string]string{
	"logfile":                 "had logs to stderr (journald); route logs with systemd",
	"debugfile":               "had logs to stderr (journald); route logs with systemd",
	"logfacility":             "had logs to stderr (journald); route logs with systemd",
	"use_logd":                "had logs to stderr (journald); route logs with systemd",
	"conn_logd_time":          "had logs to stderr (journald); there is no logd",
	"debug":                   "had's log level is not set in had.toml",
	"serial":                  "serial heartbeat links are not supported: hapair heartbeats over UDP (mcast or ucast)",
	"baud":                    "serial heartbeat links are not supported",
	"hopfudge":                "serial heartbeat links are not supported",
	"stonith":                 "hapair has no STONITH: keep two heartbeat links and a ping node so a partition cannot be mistaken for a dead peer",
	"stonith_host":            "hapair has no STONITH: keep two heartbeat links and a ping node so a partition cannot be mistaken for a dead peer",
	"watchdog":                "had uses systemd's watchdog (WatchdogSec in deploy/had.service), not a watchdog device",
	"autojoin":                "nodes are the fixed list in cluster.nodes",
	"deadping":                "a ping node is down when a probe gets no answer within [[ping]] timeout; there is no separate ping deadtime",
	"realtime":                "had runs as an ordinary systemd service",
	"rtprio":                  "had runs as an ordinary systemd service",
	"memreserve":              "had runs as an ordinary systemd service",
	"coredumps":               "core dumps are systemd's setting (LimitCORE)",
	"uuidfrom":                "nodes are named, not identified by UUID",
	"hbgenmethod":             "had keeps its generation number in cluster.state_dir",
	"msgfmt":                  "hapair's heartbeat packet format is fixed",
	"compression":             "heartbeat packets are not compressed",
	"compression_threshold":   "heartbeat packets are not compressed",
	"traditional_compression": "heartbeat packets are not compressed",
	"max_rexmit_delay":        "hapair does not retransmit heartbeats",
	"generation_threshold":    "hapair's generation number has no threshold",
	"enable_config_writes":    "had.toml is only written by the operator",
	"record_config_changes":   "had.toml is only written by the operator",
	"record_pengine_inputs":   "there is no policy engine",
	"client_child":            "had does not supervise client programs; use systemd",
	"apiauth":                 "hactl access is the control socket's mode (root only)",
}

type hacf struct {
	im         *importer
	file       string
	nodes      []string
	nodeAt     map[string]src
	portSet    bool
	ucast      map[string][]ucastAddr // interface -> addresses, in file order
	ucastOrder []string
	ucastSeen  map[netip.Addr]src // each ucast address and its first line
	pingSeen   map[string]bool
	ipfail     *src
	crm        bool
}

type ucastAddr struct {
	at   src
	addr netip.Addr
}

// parseHACF reads ha.cf(5) into the cluster, links and pings.
func (im *importer) parseHACF(file string, data []byte) *hacf {
	h := &hacf{im: im, file: file, nodeAt: map[string]src{}, ucast: map[string][]ucastAddr{}, ucastSeen: map[netip.Addr]src{}, pingSeen: map[string]bool{}}
	c := &im.m.cluster
	c.at = src{file, 0}
	set := map[string]src{}
	for at, f := range fieldLines(file, data, false) {
		dir, args := strings.ToLower(f[0]), f[1:]
		once := func() {
			if first, dup := set[dir]; dup {
				im.warnf(at, "%s set again (first at line %d): the last one is used, as Heartbeat does", dir, first.line)
			}
			set[dir] = at
		}
		switch dir {
		case "node":
			h.node(at, args)
		case "keepalive", "warntime", "deadtime", "initdead":
			once()
			d, ok := h.duration(at, dir, args)
			if !ok {
				continue
			}
			if c.timingAt == nil {
				c.timingAt = map[string]src{}
			}
			c.timingAt[dir] = at
			*map[string]*time.Duration{"keepalive": &c.keepalive, "warntime": &c.warntime, "deadtime": &c.deadtime, "initdead": &c.initdead}[dir] = d
		case "udpport":
			once()
			h.udpport(at, args)
		case "auto_failback":
			once()
			h.autoFailback(at, args)
		case "nice_failback":
			once()
			if len(args) == 1 && (args[0] == "on" || args[0] == "off") {
				// nice_failback on is the old spelling of auto_failback off.
				c.autoFailback, c.failbackSet = args[0] == "off", true
			} else {
				im.warnf(at, "nice_failback %s: want on or off; ignored", strings.Join(args, " "))
			}
		case "bcast":
			h.bcast(at, args)
		case "mcast", "mcast6":
			h.mcast(at, dir, args)
		case "ucast", "ucast6":
			h.ucastLine(at, args)
		case "ping":
			for _, a := range args {
				h.ping(at, a, "")
			}
			if len(args) == 0 {
				im.warnf(at, "ping with no address; ignored")
			}
		case "ping_group":
			if len(args) < 2 {
				im.warnf(at, "ping_group wants a name and addresses; ignored")
				continue
			}
			for _, a := range args[1:] {
				h.ping(at, a, args[0])
			}
			im.warnf(at, "ping_group %s: hapair has no ping group (up while any member answers): each address became its own ping node, so one member down now costs priority", args[0])
		case "respawn":
			h.respawn(at, args)
		case "crm", "pacemaker":
			if len(args) == 1 && slices.Contains([]string{"off", "no", "false"}, strings.ToLower(args[0])) {
				continue
			}
			h.crm = true
			im.warnf(at, "%s %s: a CRM/Pacemaker configuration (the CIB) is not read; haresources is imported as Heartbeat v1 resource groups", dir, strings.Join(args, " "))
		default:
			if why, ok := hacfIgnored[dir]; ok {
				im.warnf(at, "%s: not carried over: %s", dir, why)
				continue
			}
			im.warnf(at, "unknown ha.cf directive %q; ignored", f[0])
		}
	}
	h.finishUcast()
	h.mergeLinks()
	if h.ipfail != nil && len(im.m.pings) == 0 {
		im.warnf(*h.ipfail, "ipfail without ping nodes decides nothing (in Heartbeat either); add [[ping]] nodes to get hapair's isolation rule")
	}
	return h
}

// maxNodes is ha.MaxNodes, the largest cluster had loads (a heartbeat
// lists what its sender hears of every other node). The importer sits on
// the balancer's side of the import graph (test/archtest: only node imports
// both ha/ and proxy/), so TestMaxNodes keeps the two equal.
const maxNodes = 33

func (h *hacf) node(at src, args []string) {
	if len(args) == 0 {
		h.im.warnf(at, "node with no name; ignored")
	}
	for _, n := range args {
		n = h.im.nodeName(at, n)
		switch {
		case !config.ValidName(n, 64):
			h.im.refusef(at, "node %q: hapair node names are 1..64 characters of A-Z a-z 0-9 . _ -", n)
		case slices.Contains(h.nodes, n):
			h.im.warnf(at, "node %s listed again (first at line %d)", n, h.nodeAt[n].line)
		case len(h.nodes) == maxNodes:
			h.im.refusef(at, "node %s: hapair clusters have at most %d nodes (a heartbeat lists what its sender hears of every other node); not imported", n, maxNodes)
		default:
			h.nodes = append(h.nodes, n)
			h.nodeAt[n] = at
		}
	}
}

// nodeName is node n of a node line or haresources as Heartbeat reads
// it: in lower case, since Heartbeat lowercases node names and compares
// them case-insensitively (uname -n included), so "LB1" and "lb1" are one
// node. A name written otherwise is said once.
func (im *importer) nodeName(at src, n string) string {
	low := strings.ToLower(n)
	if low != n && !im.lowered[n] {
		if im.lowered == nil {
			im.lowered = map[string]bool{}
		}
		im.lowered[n] = true
		im.warnf(at, "node %s written as %s: Heartbeat compares node names in lower case (it lowercases uname -n too), and had matches the host name to it ignoring case", n, low)
	}
	return low
}

// mergeLinks keeps one link of each identical set (same kind, interface,
// multicast group and port): Heartbeat opens a medium per line, so a
// repeated `bcast eth1` sends every heartbeat twice on one path, which
// adds nothing; had refuses two links on one interface, group and port.
// The others are dropped with a warning naming the one kept.
func (h *hacf) mergeLinks() {
	port := func(l *link) int {
		if l.port != 0 {
			return l.port
		}
		if h.im.m.cluster.port != 0 {
			return h.im.m.cluster.port
		}
		return 694
	}
	var kept []*link
	for _, l := range h.im.m.links {
		i := slices.IndexFunc(kept, func(k *link) bool {
			return k.kind == config.LinkKindMcast && l.kind == k.kind && k.iface == l.iface && k.group == l.group && port(k) == port(l)
		})
		if i < 0 {
			kept = append(kept, l)
			continue
		}
		h.im.warnf(l.at, "line %d already gives this heartbeat link (%s, group %s, port %d): one link kept, since a repeated medium only sends each heartbeat twice on one path", kept[i].at.line, l.iface, l.group, port(l))
	}
	h.im.m.links = kept
}

// duration parses Heartbeat's time syntax (cl_get_msec): a decimal number
// with an optional unit, s/sec (the default), ms/msec or us/usec.
func (h *hacf) duration(at src, dir string, args []string) (time.Duration, bool) {
	if len(args) != 1 {
		h.im.warnf(at, "%s wants one time value; ignored", dir)
		return 0, false
	}
	d, ok := heartbeatTime(args[0])
	if !ok {
		h.im.warnf(at, "%s %q is not a time (want seconds, or a number with ms or us); ignored", dir, args[0])
		return 0, false
	}
	return d, true
}

func heartbeatTime(s string) (time.Duration, bool) {
	num, unit := s, time.Second
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"msec", time.Millisecond}, {"usec", time.Microsecond}, {"sec", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}, {"s", time.Second}} {
		if strings.HasSuffix(strings.ToLower(s), u.suffix) {
			num, unit = s[:len(s)-len(u.suffix)], u.d
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || v*float64(unit) > float64(24*time.Hour) || strings.ContainsAny(num, "eExXpP_") {
		return 0, false
	}
	d := time.Duration(math.Round(v * float64(unit)))
	if d < time.Millisecond {
		return 0, false
	}
	return d, true
}

func (h *hacf) udpport(at src, args []string) {
	p, err := strconv.Atoi(strings.Join(args, " "))
	if err != nil || p < 1 || p > 65535 {
		h.im.warnf(at, "udpport %q is not a port 1..65535; ignored", strings.Join(args, " "))
		return
	}
	h.im.m.cluster.port = p
	// Heartbeat applies udpport to the media declared after it: links read
	// before keep its default.
	for _, l := range h.im.m.links {
		if l.port == 0 {
			l.port = 694
			l.notes = append(l.notes, "port 694: declared before udpport, so Heartbeat used its default here")
		}
	}
	h.portSet = true
}

func (h *hacf) autoFailback(at src, args []string) {
	c := &h.im.m.cluster
	switch strings.Join(args, " ") {
	case "on", "yes", "true":
		c.autoFailback, c.failbackSet = true, true
	case "off", "no", "false":
		c.autoFailback, c.failbackSet = false, true
	case "legacy":
		c.autoFailback, c.failbackSet = true, true
		h.im.warnf(at, "auto_failback legacy: mapped to true (legacy failed back unless every node ran nice_failback); hapair fails back after failback_hold")
	default:
		h.im.warnf(at, "auto_failback %q: want on, off or legacy; hapair's default (off) applies", strings.Join(args, " "))
	}
}

func (h *hacf) bcast(at src, args []string) {
	if len(args) == 0 {
		h.im.warnf(at, "bcast with no interface; ignored")
		return
	}
	for _, ifc := range args {
		h.im.m.links = append(h.im.m.links, &link{at: at, kind: config.LinkKindMcast, iface: ifc, group: bcastGroup,
			notes: []string{"Heartbeat broadcast on " + ifc + "; hapair has no broadcast links, so this multicast group on the same interface stands in"}})
	}
	h.im.warnf(at, "bcast %s: hapair has no broadcast links; mapped to mcast group %s on the same interface (switches doing IGMP snooping need a querier on that LAN)", strings.Join(args, " "), bcastGroup)
}

// mcast reads `mcast IF GROUP PORT TTL LOOP` (mcast6: HOPS for TTL).
func (h *hacf) mcast(at src, dir string, args []string) {
	if len(args) < 2 {
		h.im.refusef(at, "%s wants interface and group (%s IF GROUP PORT TTL LOOP)", dir, dir)
		return
	}
	g, err := netip.ParseAddr(args[1])
	if err == nil && g.Is6() && g.IsMulticast() {
		h.im.refusef(at, "%s %s: hapair's heartbeat links are IPv4 only; use an IPv4 mcast or ucast link", dir, strings.Join(args, " "))
		return
	}
	if err != nil || !g.IsMulticast() || (dir == "mcast6") != g.Is6() {
		h.im.refusef(at, "%s group %q is not a multicast IPv%s address", dir, args[1], map[bool]string{true: "6", false: "4"}[dir == "mcast6"])
		return
	}
	l := &link{at: at, kind: config.LinkKindMcast, iface: args[0], group: g.String()}
	if len(args) >= 3 {
		p, err := strconv.Atoi(args[2])
		if err != nil || p < 1 || p > 65535 {
			h.im.refusef(at, "%s port %q is not a port 1..65535", dir, args[2])
			return
		}
		l.port = p
	}
	if len(args) >= 4 && args[3] != "1" {
		h.im.warnf(at, "%s ttl %s: not carried over; hapair heartbeats stay on the link (sent with TTL 255, accepted only with TTL 255, RFC 5082)", dir, args[3])
	}
	if len(args) >= 5 && args[4] != "0" {
		h.im.warnf(at, "%s loop %s: not carried over; hapair always turns multicast loopback off (a node must not hear itself)", dir, args[4])
	}
	if len(args) > 5 {
		h.im.warnf(at, "%s: extra fields %q ignored", dir, strings.Join(args[5:], " "))
	}
	h.im.m.links = append(h.im.m.links, l)
}

// ucastLine collects `ucast IF PEER`; finishUcast turns each interface's
// addresses into one link.
func (h *hacf) ucastLine(at src, args []string) {
	if len(args) < 2 {
		h.im.refusef(at, "ucast wants an interface and a peer address (ucast IF ADDR)")
		return
	}
	for _, s := range args[1:] {
		a, err := netip.ParseAddr(s)
		if err != nil {
			h.im.refusef(at, "ucast peer %q is not a unicast IP address (a host name would be resolved by Heartbeat at start; write the address)", s)
			continue
		}
		// had.toml's rule for a heartbeat peer (ha/link); loopback has
		// its own there (every node on it, for a test on one host).
		if why := unicast.Problem(a.Unmap()); why != "" && !a.IsLoopback() {
			h.im.refusef(at, "ucast peer %s: %s", s, why)
			continue
		}
		if !a.Unmap().Is4() {
			h.im.refusef(at, "ucast %s %s: hapair's heartbeat links are IPv4 only", args[0], s)
			continue
		}
		// One address is one node's: every link binds it on the same
		// port, so hapair refuses it twice (config: two ucast links
		// cannot share an address and port).
		if first, dup := h.ucastSeen[a.Unmap()]; dup {
			h.im.warnf(at, "ucast %s %s: address already given at %s; ignored", args[0], s, first)
			continue
		}
		h.ucastSeen[a.Unmap()] = at
		if _, ok := h.ucast[args[0]]; !ok {
			h.ucastOrder = append(h.ucastOrder, args[0])
		}
		h.ucast[args[0]] = append(h.ucast[args[0]], ucastAddr{at, a.Unmap()})
	}
}

// finishUcast builds one ucast link per interface. Heartbeat's ucast lines
// name addresses, not nodes (and ignore the node's own address), while a
// hapair ucast link maps every node to its address: addresses are given to
// the nodes in the order both were written (finishCluster gives a node
// without one a placeholder).
func (h *hacf) finishUcast() {
	for _, ifc := range h.ucastOrder {
		addrs := h.ucast[ifc]
		l := &link{at: addrs[0].at, kind: config.LinkKindUcast, iface: ifc, peers: map[string]string{}, where: map[string]src{}}
		var pairs []string
		for i, n := range h.nodes {
			if i < len(addrs) {
				l.peers[n] = addrs[i].addr.String()
				l.where[l.peers[n]] = addrs[i].at
				pairs = append(pairs, n+"="+addrs[i].addr.String())
			}
		}
		for _, a := range addrs[min(len(addrs), len(h.nodes)):] {
			h.im.warnf(a.at, "ucast %s %s: more addresses than nodes; this one is not used", ifc, a.addr)
		}
		if len(pairs) > 0 {
			l.notes = append(l.notes, "ucast addresses given to nodes in the order written: "+strings.Join(pairs, ", ")+"; check")
			why := "assigned in order"
			if len(addrs) < len(h.nodes) {
				why = "a node's own ha.cf usually names only its peers, so the address may belong to another node; assigned in order"
			}
			h.im.warnf(addrs[0].at, "ucast %s: Heartbeat's ucast lines name addresses, not nodes; %s (%s): check the mapping", ifc, why, strings.Join(pairs, ", "))
		}
		h.im.m.links = append(h.im.m.links, l)
	}
}

func (h *hacf) ping(at src, s, group string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		h.im.warnf(at, "ping node %q is not an IP address; ignored (hapair ping nodes are addresses)", s)
		return
	}
	a = a.Unmap()
	if h.pingSeen[a.String()] {
		h.im.warnf(at, "ping node %s listed again; ignored", a)
		return
	}
	h.pingSeen[a.String()] = true
	p := &ping{at: at, addr: a.String()}
	if group != "" {
		p.notes = []string{"member of Heartbeat ping_group " + group}
	}
	h.im.m.pings = append(h.im.m.pings, p)
}

func (h *hacf) respawn(at src, args []string) {
	if len(args) >= 2 && strings.HasSuffix(args[1], "/ipfail") || len(args) >= 2 && args[1] == "ipfail" {
		h.ipfail = &at
		h.im.m.cluster.notes = append(h.im.m.cluster.notes,
			"ipfail ("+at.String()+") is built in: with [[ping]] nodes, a node that reaches none of them and no peer holds nothing, and a node that lost a ping node yields to a healthier peer")
		return
	}
	h.im.warnf(at, "respawn %s: not carried over; had does not respawn programs (run them as systemd services)", strings.Join(args, " "))
}
