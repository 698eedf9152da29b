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
			return false, nil
		}
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
