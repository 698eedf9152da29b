package importer

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Addresses as ldirectord.cf, ipvsadm and monitor.cfg write them.

type hostPort struct {
	addr netip.Addr
	host string // a host name instead of addr
	port int    // 0 = none given
}

func (h hostPort) String() string {
	a := h.host
	if a == "" {
		a = h.addr.String()
		if h.addr.Is6() && h.port != 0 {
			a = "[" + a + "]"
		}
	}
	if h.port == 0 {
		return a
	}
	return a + ":" + strconv.Itoa(h.port)
}

// parseHostPort reads ADDR, ADDR:PORT, [V6]:PORT, HOST or HOST:PORT; a port
// may be a service name (ldirectord and ipvsadm accept /etc/services names).
// defPort fills a missing port.
func parseHostPort(s string, defPort int) (hostPort, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		if defPort == 0 {
			return hostPort{}, fmt.Errorf("%q has no port", s)
		}
		return hostPort{addr: a.Unmap(), port: defPort}, nil
	}
	h, p, err := splitHostPort(s)
	if err != nil {
		return hostPort{}, err
	}
	hp := hostPort{port: defPort}
	if p != "" {
		n, ok := portNumber(p)
		if !ok {
			return hostPort{}, fmt.Errorf("%q is not a port", p)
		}
		hp.port = n
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		hp.addr = a.Unmap()
	} else if validHost(h) {
		hp.host = strings.ToLower(h)
	} else {
		return hostPort{}, fmt.Errorf("%q is neither an IP address nor a host name", h)
	}
	if hp.port == 0 {
		return hostPort{}, fmt.Errorf("%q has no port", s)
	}
	return hp, nil
}

func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("%q: missing ]", s)
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if rest[0] != ':' {
			return "", "", fmt.Errorf("%q: want [ADDR]:PORT", s)
		}
		return host, rest[1:], nil
	}
	if strings.Count(s, ":") > 1 {
		return "", "", fmt.Errorf("%q: write an IPv6 address with a port as [ADDR]:PORT", s)
	}
	host, port, _ = strings.Cut(s, ":")
	return host, port, nil
}

// validHost reports whether s is a DNS host name (RFC 1123 labels) with a
// letter in it, as internal/config takes them (a mistyped address such as
// "10.0.1" is not a name).
func validHost(s string) bool {
	if s == "" || len(s) > 253 || !strings.ContainsAny(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz") {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// wellKnownPorts are the /etc/services names ldirectord.cf and ipvsadm-save
// (without -n) write, so the import does not depend on the machine's
// /etc/services.
var wellKnownPorts = map[string]int{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "www": 80, "pop3": 110,
	"nntp": 119, "imap": 143, "imap2": 143, "snmp": 161, "ldap": 389, "https": 443, "submission": 587,
	"ldaps": 636, "imaps": 993, "pop3s": 995, "ms-sql-s": 1433, "oracle": 1521, "radius": 1812,
	"mysql": 3306, "sip": 5060, "sip-tls": 5061, "postgresql": 5432, "http-alt": 8080, "webcache": 8080,
}

func portNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 1 && n <= 65535
	}
	n, ok := wellKnownPorts[strings.ToLower(s)]
	return n, ok
}

// expandRange reads ldirectord's real address, which may be a range
// A->B of IPv4 addresses (at most 256).
func expandRange(s string, port int) ([]hostPort, error) {
	from, to, isRange := strings.Cut(s, "->")
	if !isRange {
		hp, err := parseHostPort(s, port)
		if err != nil {
			return nil, err
		}
		return []hostPort{hp}, nil
	}
	last, err := parseHostPort(to, port)
	if err != nil {
		return nil, err
	}
	first, err := netip.ParseAddr(from)
	if err != nil || !first.Is4() || !last.addr.Is4() || last.addr.Less(first) {
		return nil, fmt.Errorf("range %q: want IPv4 FIRST->LAST[:PORT] with FIRST <= LAST", s)
	}
	var out []hostPort
	for a := first; ; a = a.Next() {
		if len(out) == 256 {
			return nil, fmt.Errorf("range %q: more than 256 addresses", s)
		}
		out = append(out, hostPort{addr: a, port: last.port})
		if a == last.addr {
			return out, nil
		}
	}
}
