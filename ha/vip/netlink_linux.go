package vip

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Netlink is the Kernel backed by rtnetlink (vishvananda/netlink).
type Netlink struct {
	h *netlink.Handle
}

var _ Kernel = (*Netlink)(nil)

// OpenNetlink opens a netlink handle in the network namespace at nsPath
// (e.g. /run/netns/lb1) without moving any thread, or in the process's own
// namespace when nsPath is empty.
func OpenNetlink(nsPath string) (*Netlink, error) {
	if nsPath == "" {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("vip: opening netlink: %w", err)
		}
		return &Netlink{h: h}, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("vip: opening network namespace %q: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("vip: opening netlink in %q: %w", nsPath, err)
	}
	return &Netlink{h: h}, nil
}

// Close releases the handle.
func (n *Netlink) Close() error {
	n.h.Close()
	return nil
}

func toLink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{Name: a.Name, Index: a.Index, HardwareAddr: a.HardwareAddr}
}

// LinkByName returns the link called name.
func (n *Netlink) LinkByName(name string) (Link, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return Link{}, err
	}
	return toLink(l), nil
}

// LinkByIndex returns the link with the given index.
func (n *Netlink) LinkByIndex(index int) (Link, error) {
	l, err := n.h.LinkByIndex(index)
	if err != nil {
		return Link{}, err
	}
	return toLink(l), nil
}

// Addrs returns every IPv4 and IPv6 address on every link.
func (n *Netlink) Addrs() ([]Addr, error) {
	nas, err := n.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := make([]Addr, 0, len(nas))
	for _, na := range nas {
		if na.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(na.IP)
		if !ok {
			continue
		}
		bits, _ := na.Mask.Size()
		out = append(out, Addr{Prefix: netip.PrefixFrom(ip.Unmap(), bits), Label: na.Label, LinkIndex: na.LinkIndex})
	}
	return out, nil
}

func toNetlinkAddr(l Link, a Addr) *netlink.Addr {
	ip := a.Prefix.Addr()
	bits := 32
	if ip.Is6() {
		bits = 128
	}
	na := &netlink.Addr{
		IPNet:     &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(a.Prefix.Bits(), bits)},
		Label:     a.Label,
		LinkIndex: l.Index,
	}
	if ip.Is6() {
		// No duplicate address detection: the address must be usable at
		// once (keepalived does the same), and during a takeover the old
		// owner may still hold it for a moment, which would fail DAD.
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}

// AddrAdd adds a to l (ip addr add ... dev l label ...).
func (n *Netlink) AddrAdd(l Link, a Addr) error {
	return n.h.AddrAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: l.Name, Index: l.Index}}, toNetlinkAddr(l, a))
}

// AddrDel removes a from l. The label is not sent: the kernel would only
// delete an address whose label matches.
func (n *Netlink) AddrDel(l Link, a Addr) error {
	a.Label = ""
	return n.h.AddrDel(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: l.Name, Index: l.Index}}, toNetlinkAddr(l, a))
}
