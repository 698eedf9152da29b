package vip

import (
	"net"
	"net/netip"
)

// Link is a network interface as the kernel reports it.
type Link struct {
	Name         string
	Index        int
	HardwareAddr net.HardwareAddr
}

// Addr is an address on a link.
type Addr struct {
	Prefix    netip.Prefix // address and prefix length, e.g. 198.18.0.100/24
	Label     string       // IPv4 only, e.g. "eth0:web"; empty for none
	LinkIndex int
}

// Kernel is the part of the kernel the vip resource needs: a link by name,
// every address, and adding and removing one. The production implementation
// is Netlink; tests use a fake that records a text trace.
type Kernel interface {
	LinkByName(name string) (Link, error)
	LinkByIndex(index int) (Link, error)
	Addrs() ([]Addr, error) // every address on every link
	AddrAdd(l Link, a Addr) error
	AddrDel(l Link, a Addr) error
}

// maxLabelLen is the kernel's limit for an address label: IFNAMSIZ (16)
// less the terminating NUL.
const maxLabelLen = 15

// label returns "<iface>:<suffix>" cut to the kernel's 15 bytes by
// shortening the suffix; it returns "" (no label) when the suffix is empty
// or the interface name leaves no room for ":" and one byte. Labels are
// cosmetic (ifconfig eth0:web), so a shortened one is better than a failed
// start.
func label(iface, suffix string) string {
	if suffix == "" || len(iface)+2 > maxLabelLen {
		return ""
	}
	l := iface + ":" + suffix
	if len(l) > maxLabelLen {
		l = l[:maxLabelLen]
	}
	return l
}

// validLabelSuffix reports whether s is safe as a label suffix: ASCII
// letters, digits, '-', '_' and '.'.
func validLabelSuffix(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
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
