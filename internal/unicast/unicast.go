// Package unicast says whether an IP address can be a host's own unicast
// address: one a host holds and announces (ARP, NDP, a BGP host route),
// binds, or is reached at. It is the one rule for VIPs (ha/vip), BGP
// addresses and neighbours, heartbeat and conntrack-sync peers, and ping
// nodes, so that every key refusing "0.0.0.0" or "224.0.0.5" says the
// same thing.
package unicast

import (
	"fmt"
	"net/netip"
)

// Problem says why a is not a unicast address a host can hold, or be
// reached at ("224.0.0.5 is a multicast group address, ..."), "" when it
// is one. A zone is refused: the interface is a key of its own wherever
// an address is written. Link-local addresses are unicast (keepalived's
// IPv6 VRRP holds one); where a socket needs their zone, the caller says
// so.
func Problem(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "not an IP address"
	case a.Zone() != "":
		return fmt.Sprintf("%s has a zone; write the address without it and the interface as interface", a)
	case a.Is4In6():
		return fmt.Sprintf("%s is an IPv4-mapped IPv6 address; write the IPv4 address %s", a, a.Unmap())
	case a.IsUnspecified():
		return fmt.Sprintf("%s is the unspecified address (any address), which no host is reached at", a)
	case a.IsMulticast():
		return fmt.Sprintf("%s is a multicast group address, which no host holds as its own", a)
	case a.IsLoopback():
		return fmt.Sprintf("%s is a loopback address, which never leaves its host", a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Sprintf("%s is the limited broadcast address", a)
	case a.Is4() && a.As4()[0] == 0:
		return fmt.Sprintf("%s is in 0.0.0.0/8, \"this network\" (RFC 1122 section 3.2.1.3), which no host is reached at", a)
	}
	return ""
}
