package bgp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
)

// Lo binds addresses on the loopback device through netlink, labelled
// "lo:hapair" so `ip addr` shows who added them.
type Lo struct{}

var _ Loopback = Lo{}

const loLabel = "lo:hapair"

func loAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}, Label: labelFor(p)}
}

// labelFor: the kernel takes labels on IPv4 addresses only.
func labelFor(p netip.Prefix) string {
	if p.Addr().Is4() {
		return loLabel
	}
	return ""
}

// AddrAdd adds p to lo; false when it was there already.
func (Lo) AddrAdd(p netip.Prefix) (bool, error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return false, fmt.Errorf("finding lo: %w", err)
	}
	if err := netlink.AddrAdd(lo, loAddr(p)); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			// Ours when it carries our label: left by a run that crashed.
			return ours(lo, p)
		}
		return false, err
	}
	return true, nil
}

// ours reports whether p is on lo with hapair's label (IPv4 only: the
// kernel keeps no label on IPv6 addresses, so those are never ours once
// the run that added them is gone).
func ours(lo netlink.Link, p netip.Prefix) (bool, error) {
	if !p.Addr().Is4() {
		return false, nil
	}
	addrs, err := netlink.AddrList(lo, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("listing lo's addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == p.Addr() && a.Label == loLabel {
			return true, nil
		}
	}
	return false, nil
}

// RemoveOwned removes p from lo when it carries hapair's label (a stale
// address of a crashed run); it reports whether it did.
func (Lo) RemoveOwned(p netip.Prefix) (bool, error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return false, fmt.Errorf("finding lo: %w", err)
	}
	if ok, err := ours(lo, p); err != nil || !ok {
		return false, err
	}
	if err := netlink.AddrDel(lo, loAddr(p)); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return false, err
	}
	return true, nil
}

// AddrDel removes p from lo; gone already is not an error.
func (Lo) AddrDel(p netip.Prefix) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo: %w", err)
	}
	if err := netlink.AddrDel(lo, loAddr(p)); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return err
	}
	return nil
}
