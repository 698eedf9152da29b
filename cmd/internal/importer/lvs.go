package importer

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/fwd"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/nft"
)

// methodAt is one real's LVS forwarding method, as ldirectord and ipvsadm
// name it: gate (-g, direct routing), masq (-m, NAT) or ipip (-i, tunnel).
type methodAt struct {
	at     src
	method string
}

// lvsMethod maps LVS forwarding names onto hapair's (DESIGN.md "Embedded
// balancer"); "tun" has no hapair counterpart.
var lvsMethod = map[string]fwd.Method{"gate": fwd.DR, "masq": fwd.NAT, "ipip": "tun"}

var lvsMethodLong = map[string]string{"gate": "gate (LVS-DR)", "masq": "masq (LVS-NAT)", "ipip": "ipip (LVS-TUN)"}

// forwarding records the service's method from its reals'. hapair
// forwards per service, LVS per real: the first real's wins, and every
// real whose own method is not carried over is warned about at its line. finishMethods decides, once the groups are known, whether
// hapair's kernel method can take it.
func (im *importer) forwarding(s *service, methods []methodAt, tool string) {
	if len(methods) == 0 {
		return
	}
	first := methods[0]
	for _, m := range methods[1:] {
		if m.method != first.method {
			im.warnf(m.at, "real forwarded with %s while the first real of this service used %s: hapair forwards per service, %s used for all", m.method, first.method, first.method)
		}
	}
	s.method, s.methodAt, s.methodTool, s.methodSrc = lvsMethod[first.method], first.at, tool, first.method
}

// finishMethods maps each service's LVS method onto hapair's: nat and dr
// run in the kernel where had.toml has them and the service fits their
// rules (internal/config: no lc/wlc, no backups or monitors, an IPv4 VIP
// that is neither the wildcard nor a loopback address,
// reals and fallback, no loopback real or fallback, weights within the
// slot map (proxy/nft's rule); dr needs the VIP's interface
// and reals on the virtual port); everything else is forwarded by the userspace balancer, with a
// note saying which method the source used.
func (im *importer) finishMethods() {
	vipIface := map[string]string{} // VIP address -> interface
	for _, g := range im.m.groups {
		for _, r := range g.resources {
			if r.kind == config.KindVIP && r.iface != "" {
				vipIface[strings.SplitN(r.address, "/", 2)[0]] = r.iface
			}
		}
	}
	for _, s := range im.m.services {
		if s.method == "" {
			continue
		}
		long := lvsMethodLong[s.methodSrc]
		if s.method == "tun" {
			s.notes = append(s.notes, fmt.Sprintf("%s forwarded with %s; hapair has no tunnel method: the userspace balancer (proxy) forwards this service", s.methodTool, long))
			im.warnf(s.methodAt, "%s: hapair has no ipip (LVS-TUN) forwarding; the userspace balancer forwards this service (reals see connections from the balancer, not the client)", s.methodSrc)
			continue
		}
		if !kernelMethods {
			s.notes = append(s.notes, fmt.Sprintf("%s forwarded with %s; it maps to hapair's %q method, which this build does not have yet: the userspace balancer (proxy) forwards this service for now", s.methodTool, long, s.method))
			im.warnf(s.methodAt, "%s: forwarded by hapair's userspace balancer until its kernel %q method exists (reals see connections from the balancer, not the client)", s.methodSrc, s.method)
			continue
		}
		ap, _ := netip.ParseAddrPort(s.listen)
		why := ""
		switch {
		case s.scheduler == "lc" || s.scheduler == "wlc":
			why = fmt.Sprintf("scheduler %s needs per-real connection counts, which hapair's kernel methods do not keep", s.scheduler)
		case len(s.backups) > 0 || len(s.monitors) > 0:
			why = "backups and monitors need the userspace balancer"
		case !ap.Addr().Is4() || !allIPv4(s):
			why = "hapair's kernel methods are IPv4 only"
		case ap.Addr().IsUnspecified() || ap.Addr().IsLoopback():
			why = fmt.Sprintf("the kernel forwards only packets addressed to the virtual address itself, and none is addressed to %s", ap.Addr())
		case slices.ContainsFunc(s.reals, func(r *real) bool { return isLoopback(endpointKey(r.address, s.listen)) }):
			why = "a loopback real cannot take forwarded packets"
		case nft.Weighted(s.scheduler) && nft.WRRSlotCount(realWeights(s)) > nft.MaxSlots:
			why = fmt.Sprintf("its weights need %d slots in the kernel's slot map, more than %d", nft.WRRSlotCount(realWeights(s)), nft.MaxSlots)
		case s.fallback != "" && isLoopback(s.fallback):
			why = "a loopback fallback cannot take forwarded packets"
		case s.method == fwd.DR && vipIface[ap.Addr().String()] == "":
			why = "dr needs the interface the VIP's packets arrive on, and the source does not say"
		case s.method == fwd.DR && !realsOnPort(s.reals, ap.Port()) || s.method == fwd.DR && !fallbackOnPort(s, ap.Port()):
			why = "dr forwards frames unchanged, so every real and the fallback must serve the virtual port"
		}
		if why != "" {
			s.notes = append(s.notes, fmt.Sprintf("%s forwarded with %s, which maps to hapair's kernel %q method, but %s: the userspace balancer (proxy) forwards this service", s.methodTool, long, s.method, why))
			im.warnf(s.methodAt, "%s: not forwarded by hapair's kernel %q method: %s; the userspace balancer forwards this service (reals see connections from the balancer, not the client)", s.methodSrc, s.method, why)
			continue
		}
		s.kernel = true
		if s.method == fwd.DR {
			s.iface = vipIface[ap.Addr().String()]
			s.notes = append(s.notes, "dr: each real must hold the VIP on a loopback with arp_ignore=1 and arp_announce=2, as with LVS-DR")
		} else {
			s.notes = append(s.notes, "nat: the reals must route their replies through the group's VIP, as with LVS-NAT")
		}
		s.notes = append(s.notes, fmt.Sprintf("%s forwarded with %s: hapair's kernel %q method", s.methodTool, long, s.method))
	}
}

// connSync maps a group's LVS connection sync (LVSSyncDaemonSwap, ipvsadm
// --start-daemon) onto hapair. The IPVS sync daemon carried the director's
// IPVS connection table to the standby; hapair's balancer replaces IPVS, so
// the imported setup has no IPVS table to sync, and an ipvs-sync resource
// would only fail on kernels without IPVS. What carries connections in
// hapair: for nat and dr services, conntrack, which the conntrack-sync
// resource (conntrackd) syncs; userspace services cannot move an
// established connection (it ends with its node), and had syncs their
// persistence table itself. So the ipvs-sync resource is replaced by
// conntrack-sync where the services run in the kernel and a complete ucast
// link gives each node's address, and otherwise left out with a warning
// saying what to add, if anything.
func (im *importer) connSync(g *group) {
	i := slices.IndexFunc(g.resources, func(r *resource) bool { return r.kind == config.KindIPVSSync })
	if i < 0 {
		return
	}
	sync := g.resources[i]
	g.resources = slices.Delete(g.resources, i, i+1)
	for _, r := range g.resources { // a second sync line says nothing more
		if r.kind == config.KindIPVSSync {
			im.warnf(r.at, "a second connection-sync resource in group %s: left out", g.name)
		}
	}
	g.resources = slices.DeleteFunc(g.resources, func(r *resource) bool { return r.kind == config.KindIPVSSync })
	what, _, _ := strings.Cut(sync.note, ": ")
	kernel := false
	for _, r := range g.resources {
		for _, s := range r.svcs {
			kernel = kernel || s.kernel
		}
	}
	if !kernel {
		im.warnf(sync.at, "%s: not carried over: the group's services are forwarded by hapair's userspace balancer, whose connections cannot move between nodes (each ends with its node); had syncs their persistence table to the peer itself", what)
		return
	}
	nodes := im.m.cluster.nodes
	for _, l := range im.m.links {
		if l.kind != config.LinkKindUcast || l.stand || l.iface == "" || len(nodes) != 2 {
			continue
		}
		cs := &resource{at: sync.at, kind: config.KindConntrackSync, iface: l.iface, port: im.conntrackPort(sync.at),
			note: what + ": the group's nat/dr services keep their connections in conntrack, which conntrack-sync (conntrackd) carries across a failover, over the ucast link on " + l.iface}
		for _, n := range nodes {
			cs.addrs = append(cs.addrs, l.peers[n])
		}
		g.resources = slices.Insert(g.resources, min(i, len(g.resources)), cs)
		return
	}
	im.warnf(sync.at, "%s: not carried over: the group's nat/dr services keep their connections in conntrack, which hapair's conntrack-sync resource carries across a failover; add { kind = \"conntrack-sync\", interface = IF, addresses = [one IPv4 address per node] } to group %s", what, g.name)
}

// allIPv4 reports whether every real of s and its fallback have an IPv4
// address (a host name counts: had resolves it; internal/config refuses
// one that resolves to IPv6 with a kernel method).
func allIPv4(s *service) bool {
	addrs := []string{s.fallback} // "" is no endpoint
	for _, r := range s.reals {
		addrs = append(addrs, r.address)
	}
	for _, a := range addrs {
		if ep, ok := endpoint(a, s.listen); ok && !ep.Addr().Is4() {
			return false
		}
	}
	return true
}

// realWeights is the weight of each real of s, as had.toml will have it.
func realWeights(s *service) []int {
	var out []int
	for _, r := range s.reals {
		w := proxy.DefaultRealWeight
		if r.wset {
			w = r.weight
		}
		out = append(out, w)
	}
	return out
}

func isLoopback(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	return err == nil && ap.Addr().IsLoopback()
}

// fallbackOnPort reports whether s has no fallback or one on port (an
// address without a port is on the service's own).
func fallbackOnPort(s *service, port uint16) bool {
	fb, ok := endpoint(s.fallback, s.listen)
	return !ok || fb.Port() == port
}

func realsOnPort(rs []*real, port uint16) bool {
	for _, r := range rs {
		ap, err := netip.ParseAddrPort(r.address)
		if err != nil || ap.Port() != port {
			return false
		}
	}
	return true
}

// lvsSchedulers maps the IPVS schedulers (ipvsadm(8)) onto hapair's rr, wrr,
// lc, wlc and sh; the ones hapair lacks go to the closest, with the reason.
var lvsSchedulers = map[string]struct{ to, why string }{
	"rr": {"rr", ""}, "wrr": {"wrr", ""}, "lc": {"lc", ""}, "wlc": {"wlc", ""}, "sh": {"sh", ""},
	"dh":    {"sh", "destination hashing has no use in front of servers; source hashing keeps the per-client stickiness"},
	"mh":    {"sh", "maglev hashing of the client becomes source hashing (sh)"},
	"lblc":  {"wlc", "locality-based scheduling is for cache clusters; weighted least-connection used"},
	"lblcr": {"wlc", "locality-based scheduling is for cache clusters; weighted least-connection used"},
	"sed":   {"wlc", "shortest expected delay becomes weighted least-connection (wlc)"},
	"nq":    {"wlc", "never-queue becomes weighted least-connection (wlc)"},
	"fo":    {"wrr", "weighted failover becomes weighted round robin (wrr)"},
	"ovf":   {"wrr", "overflow-connection becomes weighted round robin (wrr)"},
	"twos":  {"wlc", "weighted random twos becomes weighted least-connection (wlc)"},
}

// scheduler maps one IPVS scheduler name; what is the directive for the
// warning.
func (im *importer) scheduler(at src, what, name string) string {
	m, ok := lvsSchedulers[name]
	if !ok {
		im.warnf(at, "%s: unknown scheduler; wlc (ipvsadm's default) used", what)
		return "wlc"
	}
	if m.why != "" {
		im.warnf(at, "%s: hapair has no %s scheduler: %s", what, name, m.why)
	}
	return m.to
}

// noCheck sets the check of a service whose source did not check its reals
// (why says which directive or format): check type "off", every real up,
// as ldirectord's checktype=on and bare ipvsadm rules behave.
func (im *importer) noCheck(s *service, at src, why string) {
	s.check = check{typ: "off"}
	s.notes = append(s.notes, why+": check type off, every real counts as up; consider a real check")
	im.warnf(at, "%s: check type off, every real counts as up (as before); a failed real keeps receiving traffic until a check is added", why)
}
