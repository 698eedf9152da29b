package node

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
)

// findReal returns the address of the real or backup of service that spec
// names, as `hactl real disable|enable SERVICE REAL` takes it: as the
// config writes it (a host name, "backend1:80" or "backend1" for the
// service's port, matched ignoring case as DNS does), or as it resolved
// ("198.18.0.21:80", or "198.18.0.21" when one real has that address).
// Errors name the service's reals as written and as resolved.
func findReal(cfg *config.Config, service, spec string) (netip.AddrPort, error) {
	var svc *config.Service
	var names []string
	for i := range cfg.Services {
		names = append(names, cfg.Services[i].Name)
		if cfg.Services[i].Name == service {
			svc = &cfg.Services[i]
		}
	}
	if svc == nil {
		return netip.AddrPort{}, fmt.Errorf("unknown service %q; services: %s", service, strings.Join(names, ", "))
	}
	all := append(append([]config.Real(nil), svc.Reals...), svc.Backups...)
	match := func(ok func(config.Real) bool) []netip.AddrPort {
		var out []netip.AddrPort
		for _, r := range all {
			if ok(r) {
				out = append(out, r.Address)
			}
		}
		return out
	}
	var found []netip.AddrPort
	if ap, err := netip.ParseAddrPort(spec); err == nil {
		found = match(func(r config.Real) bool { return r.Address == ap })
	} else if a, err := netip.ParseAddr(spec); err == nil {
		found = match(func(r config.Real) bool { return r.Address.Addr() == a.Unmap() || r.Address.Addr() == a })
	} else {
		host, port, hasPort := spec, 0, false
		if h, p, err := net.SplitHostPort(spec); err == nil {
			if n, err := strconv.ParseUint(p, 10, 16); err == nil {
				host, port, hasPort = h, int(n), true
			}
		}
		found = match(func(r config.Real) bool {
			return r.Host != "" && strings.EqualFold(r.Host, host) && (!hasPort || int(r.Address.Port()) == port)
		})
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return netip.AddrPort{}, fmt.Errorf("service %s has no real %q; its reals: %s", service, spec, realList(svc))
	}
	var s []string
	for _, a := range found {
		s = append(s, a.String())
	}
	return netip.AddrPort{}, fmt.Errorf("real %q of service %s: %s have that address: give the port", spec, service, joinAnd(s))
}

// realList names a service's reals and backups as written and resolved:
// "backend1:80 (198.18.0.21:80), 198.18.0.22:80, backup sorry:80 (...)".
func realList(s *config.Service) string {
	var out []string
	one := func(r config.Real, prefix string) {
		if r.Host == "" {
			out = append(out, prefix+r.Address.String())
			return
		}
		written := net.JoinHostPort(r.Host, strconv.Itoa(int(r.Address.Port())))
		out = append(out, fmt.Sprintf("%s%s (%s)", prefix, written, r.Address))
	}
	for _, r := range s.Reals {
		one(r, "")
	}
	for _, r := range s.Backups {
		one(r, "backup ")
	}
	return strings.Join(out, ", ")
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// drainNote is the line `hactl services` ends with while reals are drained
// here by `hactl real disable`: a drain is this node's only (realDone), so
// the table says so where the operator looks after a switchover. "" when
// no real is drained, or for a node without peers.
func drainNote(snap *proxy.Snapshot, self string, nodes []string) string {
	var drained []string
	for _, s := range snap.Services {
		for _, r := range s.Reals {
			if r.Draining {
				drained = append(drained, s.Name+" "+r.Address)
			}
		}
	}
	peers := peersOf(self, nodes)
	if len(drained) == 0 || len(peers) == 0 {
		return ""
	}
	return fmt.Sprintf("drained on %s only (hactl real disable): %s; a drain does not reach %s: disable them there too to keep them drained after a switchover\n",
		self, strings.Join(drained, ", "), joinAnd(peers))
}
