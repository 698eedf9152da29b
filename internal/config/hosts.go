package config

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Resolver looks up a host name written for a real, a backup or a
// fallback. *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DefaultResolver is the system resolver (/etc/hosts, then DNS, as
// nsswitch says) that Load and Parse use. Tests replace it so that no
// lookup leaves the machine.
var DefaultResolver Resolver = net.DefaultResolver

// lookupTimeout bounds one host name lookup: a config check or a reload
// must not hang on a dead DNS server.
const lookupTimeout = 5 * time.Second

// hostPort reads a real, backup or fallback address: "IP", "IP:PORT" or,
// as ldirectord and Zeus take them, "HOST" or "HOST:PORT" with HOST
// resolved now (at start, and again at every reload). The first IPv4
// address wins, else the first address, so a name that has both keeps
// IPv4 reals IPv4. host is the name as written ("" for an address).
func (c *conv) hostPort(path, v string, defPort uint16) (ap netip.AddrPort, host string) {
	h, p := v, ""
	if i := strings.LastIndexByte(v, ':'); i >= 0 && strings.Count(v, ":") == 1 {
		h, p = v[:i], v[i+1:]
	}
	if _, err := netip.ParseAddr(h); err == nil || !isHostName(h) {
		return c.addrPort(path, v, defPort), ""
	}
	port := defPort
	if p != "" {
		ap := c.addrPort(path, "0.0.0.0:"+p, 0)
		if !ap.IsValid() {
			return netip.AddrPort{}, h
		}
		port = ap.Port()
	}
	if port == 0 {
		c.errorf(path, "%q: want HOST:PORT", v)
		return netip.AddrPort{}, h
	}
	r := c.resolver
	if r == nil {
		r = DefaultResolver
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", h)
	if err == nil && len(addrs) == 0 {
		err = errNoAddress
	}
	if err != nil {
		c.errorf(path, "host name %q does not resolve: %v (names are resolved when had starts and at every reload)", h, err)
		return netip.AddrPort{}, h
	}
	best := addrs[0]
	for _, a := range addrs {
		if a.Unmap().Is4() {
			best = a
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), port), h
}

type noAddress struct{}

func (noAddress) Error() string { return "no address" }

var errNoAddress error = noAddress{}

// isHostName reports whether s is a DNS host name (RFC 1123 labels) with
// at least one letter, so that a mistyped address ("198.18.0") is not
// looked up.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	letter := false
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			switch {
			case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z':
				letter = true
			case b >= '0' && b <= '9' || b == '-':
			default:
				return false
			}
		}
	}
	return letter
}
