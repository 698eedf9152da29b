package importer

import (
	"fmt"
)

// methodAt is one real's LVS forwarding method, as ldirectord and ipvsadm
// name it: gate (-g, direct routing), masq (-m, NAT) or ipip (-i, tunnel).
type methodAt struct {
	at     src
	method string
}

// lvsMethod maps LVS forwarding names onto hapair's (DESIGN.md "Embedded
// balancer"); "tun" has no hapair counterpart.
var lvsMethod = map[string]string{"gate": "dr", "masq": "nat", "ipip": "tun"}

var lvsMethodLong = map[string]string{"gate": "gate (LVS-DR)", "masq": "masq (LVS-NAT)", "ipip": "ipip (LVS-TUN)"}

// forwarding sets the service's method from its reals'. hapair forwards per
// service, LVS per real: a mix is warned about and the first real's wins.
// Where hapair has no kernel data plane for the method, the service uses the
// userspace balancer and a note says which method the source used.
func (im *importer) forwarding(s *service, methods []methodAt, tool string) {
	if len(methods) == 0 {
		return
	}
	first := methods[0]
	for _, m := range methods[1:] {
		if m.method != first.method {
			im.warnf(m.at, "real forwarded with %s while the first real of this service used %s: hapair forwards per service, %s used for all", m.method, first.method, first.method)
			break
		}
	}
	s.method = lvsMethod[first.method]
	switch {
	case kernelMethods && (s.method == "nat" || s.method == "dr"):
		s.notes = append(s.notes, fmt.Sprintf("%s forwarded with %s: hapair's kernel %q method", tool, lvsMethodLong[first.method], s.method))
	case s.method == "tun":
		s.notes = append(s.notes, fmt.Sprintf("%s forwarded with %s; hapair has no tunnel method: the userspace balancer (proxy) forwards this service", tool, lvsMethodLong[first.method]))
		im.warnf(first.at, "%s: hapair has no ipip (LVS-TUN) forwarding; the userspace balancer forwards this service (reals see connections from the balancer, not the client)", first.method)
	default:
		s.notes = append(s.notes, fmt.Sprintf("%s forwarded with %s; it maps to hapair's %q method, which this build does not have yet: the userspace balancer (proxy) forwards this service for now", tool, lvsMethodLong[first.method], s.method))
		im.warnf(first.at, "%s: forwarded by hapair's userspace balancer until its kernel %q method exists (reals see connections from the balancer, not the client)", first.method, s.method)
	}
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

// checkOff says whether had.toml has check type "off" (no checks, reals
// always up, as ldirectord's checktype=off).
const checkOff = false

// noCheck sets the check of a service whose source did not check its reals
// (why says which directive or format).
func (im *importer) noCheck(s *service, at src, why string) {
	s.check = check{}
	if checkOff {
		s.check.typ = "off"
		s.notes = append(s.notes, why+": no checks, every real counts as up; consider a real check")
		return
	}
	if s.protocol != "udp" {
		im.warnf(at, "%s: hapair always checks reals; connect used (a real that refuses connections is taken out, which the source did not do)", why)
		s.check.typ = "connect"
		return
	}
	im.refusef(at, "%s on a udp service: hapair checks udp reals with sip or external only; write an external check for this service", why)
	s.check.typ, s.check.program = "external", "/bin/true"
	s.notes = append(s.notes, "PLACEHOLDER: /bin/true marks every real up ("+why+"); write a real check")
}
