package importer

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/hapair/hapair/internal/config"
)

// The checks here are the cross-checks config.Load makes on what an
// import copies from the source (interface names, a node's heartbeat
// address reused as a VIP or ping node): the source is broken there, so
// the piece is refused or dropped with the lines involved, and the output
// still loads. The rules are config's own.

// finishInterfaces refuses a heartbeat link or a resource whose interface
// no Linux interface can have (config.IfnameError), and drops a VIP's
// interface and label with a warning: the VIP then goes on the interface
// whose subnet holds it.
func (im *importer) finishInterfaces() {
	m := &im.m
	var links []*link
	for _, l := range m.links {
		if err := config.IfnameError(asWritten(l.iface)); err != nil {
			im.refusef(l.at, "%s heartbeat link: interface %v; link not imported", l.kind, err)
			continue
		}
		links = append(links, l)
	}
	m.links = links
	if m.sync != nil {
		if err := config.IfnameError(asWritten(m.sync.iface)); err != nil {
			im.refusef(m.sync.at, "connection sync: interface %v; not imported", err)
			m.sync = nil
		}
	}
	for _, g := range m.groups {
		var res []*resource
		for _, r := range g.resources {
			if err := config.IfnameError(asWritten(r.iface)); err != nil {
				if r.kind != config.KindVIP {
					im.refusef(r.at, "%s resource: interface %v; not imported", r.kind, err)
					continue
				}
				im.warnf(r.at, "VIP %s: interface %v; left out (had puts the VIP on the interface whose subnet holds it)", r.address, err)
				r.iface, r.label = "", ""
			}
			res = append(res, r)
		}
		g.resources = res
	}
}

// finishPings drops a ping node that is one of the cluster's own
// addresses (a VIP or a node's heartbeat address): it answers for the
// cluster itself, so it breaks no tie (config.Load refuses it).
func (im *importer) finishPings(vips map[netip.Addr]src, hb map[netip.Addr]hbAddr) {
	var keep []*ping
	for _, p := range im.m.pings {
		a, err := netip.ParseAddr(p.addr)
		if at, ok := vips[a]; err == nil && ok {
			im.warnf(p.at, "ping node %s is a VIP (%s): it answers for the cluster itself, so it breaks no tie; ignored", a, at)
			continue
		}
		if u, ok := hb[a]; err == nil && ok {
			im.warnf(p.at, "ping node %s is %s (%s): it answers for the cluster itself, so it breaks no tie; ignored", a, u.what, u.at)
			continue
		}
		keep = append(keep, p)
	}
	im.m.pings = keep
}

// hbAddr is a node's heartbeat address and the line that gave it.
type hbAddr struct {
	what string
	at   src
}

// heartbeatAddrs maps each node's ucast heartbeat address to where the
// source gave it, for the cross-check config.Load makes: a VIP or a
// service's listen address must not be one of them.
func (im *importer) heartbeatAddrs() map[netip.Addr]hbAddr {
	out := map[netip.Addr]hbAddr{}
	for _, l := range im.m.links {
		for _, n := range slices.Sorted(maps.Keys(l.peers)) {
			s := l.peers[n]
			a, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			at, ok := l.where[s]
			if !ok {
				at = l.at
			}
			out[a] = hbAddr{fmt.Sprintf("node %s's ucast heartbeat address on %s", n, l.iface), at}
		}
	}
	return out
}

// wildcardSelf drops the reals, backups and fallback of a service on the
// wildcard address that are one of the cluster's own addresses (a VIP or
// a node's heartbeat address) on the service's port: the service would
// forward to itself (config.Load refuses it). A service left with nothing
// to forward to is refused and leaves its balancer.
func (im *importer) wildcardSelf(vips map[netip.Addr]src, hb map[netip.Addr]hbAddr) {
	own := func(what, addr string, listen netip.AddrPort, at src) bool {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || ap.Port() != listen.Port() {
			return false
		}
		if first, ok := vips[ap.Addr()]; ok {
			im.refusef(at, "%s %s is the service itself: it listens on %s, and %s is a VIP (%s); not imported", what, addr, listen, ap.Addr(), first)
			return true
		}
		if u, ok := hb[ap.Addr()]; ok {
			im.refusef(at, "%s %s is the service itself: it listens on %s, and %s is %s (%s); not imported", what, addr, listen, ap.Addr(), u.what, u.at)
			return true
		}
		return false
	}
	gone := map[string]bool{}
	var keep []*service
	for _, s := range im.m.services {
		listen, err := netip.ParseAddrPort(s.listen)
		if err != nil || !listen.Addr().IsUnspecified() {
			keep = append(keep, s)
			continue
		}
		s.reals = slices.DeleteFunc(s.reals, func(r *real) bool { return own("real", r.address, listen, r.at) })
		s.backups = slices.DeleteFunc(s.backups, func(r *real) bool { return own("backup", r.address, listen, r.at) })
		if s.fallback != "" && own("fallback", s.fallback, listen, s.at) {
			s.fallback = ""
		}
		if len(s.reals) == 0 && s.fallback == "" {
			im.refusef(s.at, "virtual service %s has no real server left (and no fallback); service not imported", s.listen)
			gone[s.name] = true
			continue
		}
		keep = append(keep, s)
	}
	im.m.services = keep
	if len(gone) == 0 {
		return
	}
	for _, g := range im.m.groups {
		g.resources = slices.DeleteFunc(g.resources, func(r *resource) bool {
			if r.kind != config.KindBalancer {
				return false
			}
			r.services = slices.DeleteFunc(r.services, func(n string) bool { return gone[n] })
			return len(r.services) == 0
		})
	}
}

// serviceVIPs makes each service's virtual address a VIP of the group
// whose balancer activates it, as config.Load requires (else the balancer
// would take traffic on a node that does not hold the address):
//   - an address no group holds is added to the activating group;
//   - an address another group holds, where both groups prefer the same
//     node, moves the service to that group's balancer: Heartbeat moved
//     the resources of one node together (hb_standby, failover and
//     failback act on "local" or "foreign" resources, ha.cf(5)), so the
//     source served it on the node holding the address;
//   - one held by a group preferring another node is refused, naming both
//     lines: Heartbeat served it on the wrong node whenever both were up.
//
// vips and vipGroup map each VIP to its line and group; svc maps names.
func (im *importer) serviceVIPs(vips map[netip.Addr]src, vipGroup map[netip.Addr]*group, svc map[string]*service) {
	refused := map[string]bool{}
	movedTo := map[*group]*group{} // a group that gave a service away, to the group that took it
	for _, g := range im.m.groups {
		for _, r := range g.resources {
			if r.kind != config.KindBalancer {
				continue
			}
			var stay []string
			for _, n := range r.services {
				s := svc[n]
				ap, err := netip.ParseAddrPort(s.listen)
				if err != nil || ap.Addr().IsUnspecified() || ap.Addr().IsLoopback() {
					stay = append(stay, n)
					continue
				}
				a := ap.Addr()
				owner, held := vipGroup[a]
				switch {
				case !held:
					p := netip.PrefixFrom(a, a.BitLen())
					vips[a], vipGroup[a] = s.at, g
					g.resources = append(g.resources, &resource{at: s.at, kind: config.KindVIP, address: p.String(),
						note: "virtual address of service " + n + ", not an address resource of this group in the source; added"})
					im.warnf(s.at, "virtual address %s of service %s is not an address resource of its group; added to group %s as %s (check the prefix and interface)", a, n, g.name, p)
					stay = append(stay, n)
				case owner == g:
					stay = append(stay, n)
				case owner.preferred == g.preferred:
					im.warnf(r.at, "service %s (%s) listens on %s, a VIP of group %s (%s), but group %s activates it here; both prefer node %s, so Heartbeat kept them together: the service moves to group %s's balancer",
						n, s.at, a, owner.name, vips[a], g.name, g.preferred, owner.name)
					balancerOf(owner, r.at).adopt(s)
					movedTo[g] = owner
				default:
					im.refusef(s.at, "service %s listens on %s, a VIP of group %s (%s, preferred node %s), but group %s activates it (%s, preferred node %s): with both nodes up the balancer would run on the node that does not hold the address; put the address and the balancer in one group; service not imported",
						n, a, owner.name, vips[a], owner.preferred, g.name, r.at, g.preferred)
					refused[n] = true
				}
			}
			kept := make(map[string]bool, len(stay))
			for _, n := range stay {
				kept[n] = true
			}
			r.services = stay
			r.svcs = slices.DeleteFunc(r.svcs, func(s *service) bool { return !kept[s.name] })
		}
		// A balancer left with no service is not written (config refuses
		// an empty one); pruneGroups drops a group left empty.
		g.resources = slices.DeleteFunc(g.resources, func(r *resource) bool { return r.kind == config.KindBalancer && len(r.services) == 0 })
	}
	im.m.services = slices.DeleteFunc(im.m.services, func(s *service) bool { return refused[s.name] })
	// A group whose only resources were the balancer of moved services
	// and a connection sync (LVSSyncDaemonSwap) is merged, not lost: no
	// refusal (pruneGroups would call it one). Its sync goes with the
	// services it synced, before their balancer, as on its own line; left
	// behind, it would sync no service and be dropped.
	im.m.groups = slices.DeleteFunc(im.m.groups, func(g *group) bool {
		to, moved := movedTo[g]
		if !moved || slices.ContainsFunc(g.resources, func(r *resource) bool { return r.kind != config.KindIPVSSync }) {
			return false
		}
		with := ""
		if len(g.resources) > 0 {
			with = ", with its connection sync"
			i := slices.IndexFunc(to.resources, func(r *resource) bool { return r.kind == config.KindBalancer })
			if i < 0 { // cannot happen: to activates the moved services
				i = len(to.resources)
			}
			to.resources = slices.Insert(to.resources, i, g.resources...)
		}
		im.warnf(g.at, "group %s: every service it activated moved to group %s%s, and it holds nothing else; not written", g.name, to.name, with)
		return true
	})
}

// balancerOf returns g's balancer resource, adding one (at the line at)
// after its other resources when it has none.
func balancerOf(g *group, at src) *resource {
	for _, r := range g.resources {
		if r.kind == config.KindBalancer {
			return r
		}
	}
	r := &resource{at: at, kind: config.KindBalancer, note: "services moved here from a group preferring the same node"}
	g.resources = append(g.resources, r)
	return r
}

// adopt makes balancer r activate s too.
func (r *resource) adopt(s *service) {
	r.services = append(r.services, s.name)
	r.svcs = append(r.svcs, s)
}
