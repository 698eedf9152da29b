package vip

import (
	"net"
	"net/netip"
	"time"
)

// Link is a network interface as the kernel reports it.
type Link struct {
	Name         string
	Index        int
	HardwareAddr net.HardwareAddr
	// Up is true when the link is administratively up (IFF_UP) and has
	// carrier (IFF_LOWER_UP): it can carry the VIP's traffic.
	Up bool
	// Gone is true in a watch event for a link that was deleted.
	Gone bool
}

// Addr is an address on a link.
type Addr struct {
	Prefix    netip.Prefix // address and prefix length, e.g. 198.18.0.100/24
	Label     string       // IPv4 only, e.g. "eth0:web"; empty for none
	LinkIndex int
	// Proto is the address's IFA_PROTO: who installed it (0 unspecified,
	// 1-3 the kernel, Proto for hapair).
	Proto uint8
	// Lifetime is the valid and preferred lifetime in whole seconds
	// (ip address ... valid_lft preferred_lft); 0 means forever.
	Lifetime time.Duration
}

// Proto is the IFA_PROTO value hapair puts on every address it adds
// (`ip -d address show proto 94` lists them), so that it removes only
// addresses it added: never the host's own address, a link's source
// address, or a copy someone added by hand. 94 is after the port, 694;
// iproute2's rt_addrprotos names only 0-3 (unspec, kernel_lo, kernel_ra,
// kernel_ll).
const Proto uint8 = 94

// Kernel is the part of the kernel the vip resource needs: a link by name,
// every address, and adding (or refreshing: AddrAdd replaces the label,
// protocol and lifetime of an address already there) and removing one. The production implementation
// is Netlink; tests use a fake that records a text trace.
type Kernel interface {
	LinkByName(name string) (Link, error)
	LinkByIndex(index int) (Link, error)
	Addrs() ([]Addr, error) // every address on every link
	AddrAdd(l Link, a Addr) error
	AddrDel(l Link, a Addr) error
}

// linkFor picks the link whose subnet contains ip, as Heartbeat's findif
// does: the longest prefix among the addresses other than ip itself.
func linkFor(addrs []Addr, ip netip.Addr) (index int, ok bool) {
	best := -1
	for _, a := range addrs {
		if a.Prefix.Addr() == ip || !a.Prefix.Contains(ip) {
			continue
		}
		if a.Prefix.Bits() > best {
			best, index, ok = a.Prefix.Bits(), a.LinkIndex, true
		}
	}
	return index, ok
}
