package serviceconf

import (
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/fwd"
)

// serviceKeyUse says which [[service]] keys only some services use: a
// key is used where setting (method, protocol or mode) has value; a key
// with two rows needs both, and the first row it fails gives the reason.
var serviceKeyUse = []struct{ key, setting, value, why string }{
	{"interface", "method", string(fwd.DR), "only dr takes the interface its VIP's packets arrive on"},
	{"mode", "method", string(fwd.Proxy), "the kernel forwards packets and has no l4 or http mode"},
	{"backups", "method", string(fwd.Proxy), "the kernel has one pool of reals; backups and monitors need method \"proxy\""},
	{"monitors", "method", string(fwd.Proxy), "the kernel has one pool of reals; backups and monitors need method \"proxy\""},
	{"connect_timeout", "method", string(fwd.Proxy), "the kernel forwards packets and opens no connection to the reals"},
	{"connect_timeout", "protocol", "tcp", "datagrams are forwarded without a connection"},
	{"idle_timeout", "method", string(fwd.Proxy), "the kernel's conntrack timeouts end its flows"},
	{"maxconn", "method", string(fwd.Proxy), "the kernel forwards packets with no per-service bound"},
	{"maxconn", "protocol", "tcp", "udp services are bounded by max_flows"},
	{"max_flows", "method", string(fwd.Proxy), "the kernel keeps its flows in conntrack"},
	{"max_flows", "protocol", "udp", "it bounds a udp service's flow table"},
	{"request_timeout", "mode", "http", "it bounds an HTTP request's head"},
	{"body_timeout", "mode", "http", "it bounds an HTTP request's body"},
}

// mootKeys reports the keys of the service at path that its
// method, protocol or mode does not use.
func (c *reader) mootKeys(path string, s *config.Service) {
	settings := map[string]string{"method": string(s.Method), "protocol": s.Protocol, "mode": s.Mode}
	for _, u := range serviceKeyUse {
		kpath := path + "." + u.key
		// mode = "http" with a kernel method has its own error.
		if !c.k.Has(kpath) || c.k.Wrong(kpath) || u.key == "mode" && s.Mode == "http" {
			continue
		}
		// A setting written wrong has its own error: which keys it
		// would use is unknown (method = "drr" is no reason to refuse
		// interface).
		if c.k.Wrong(path + "." + u.setting) {
			continue
		}
		if v := settings[u.setting]; v != u.value {
			c.k.KeyErrorf(kpath, "key %q is not used by %s %q: %s", u.key, u.setting, v, u.why)
		}
	}
	// A monitor's verdict picks between the reals and the backups
	// (proxy's updatePool): with no backups it never changes anything.
	if kpath := path + ".monitors"; c.k.Has(kpath) && !c.k.Wrong(kpath) && len(s.Backups) == 0 {
		c.k.KeyErrorf(kpath, "key %q has no effect: the service has no backups, and a monitor's FAIL only moves new connections to the backups (Zeus's slaves); add backups, or remove the monitors", "monitors")
	}
}

// habits warns about two settings that make no difference where they are
// written, but that ldirectord's and ipvsadm's users write by habit (and
// hactl import carries over, as deploy/sip-pair.toml has them): refusing
// them would refuse every such import, so they are warnings, not errors.
func habits(k *config.Keys, svcs []config.Service) {
	ignores := map[string]string{
		"rr": "takes every real with a weight above 0 in turn, as IPVS rr does; wrr weighs reals",
		"lc": "picks the real with the fewest connections whatever its weight above 0, as IPVS lc does; wlc weighs reals",
	}
	for i, s := range svcs {
		path := field.Index("service", i)
		if s.Quiescent && s.Persistent == 0 {
			k.Warnf(path+".quiescent", "quiescent = true makes no difference without persistent: a failed real takes no new connections either way and its established ones finish; it keeps persistent clients on their real until it is back")
		}
		why, ok := ignores[s.Scheduler]
		if !ok {
			continue
		}
		for _, pool := range []struct {
			key   string
			reals []config.Real
		}{{"reals", s.Reals}, {"backups", s.Backups}} {
			for j, r := range pool.reals {
				if r.Weight > 1 {
					k.Warnf(field.Index(path+"."+pool.key, j)+".weight", "weight %d makes no difference under scheduler %q, which %s", r.Weight, s.Scheduler, why)
				}
			}
		}
	}
}
