package bgp

import (
	"fmt"
	"net/netip"

	"github.com/hapair/hapair/ha/vip"
)

// Lo binds addresses on the loopback device through the vip resource's
// netlink kernel, with the mark the vip resource puts on every address
// hapair adds (IFA_PROTO vip.Proto): that mark, not a label, says which
// copies are ours, so a stale IPv6 address a crashed run left is
// recognised too (the kernel keeps labels on IPv4 addresses only). IPv4
// copies also carry the label "lo:hapair" so `ip addr` shows who added
// them; `ip -d address show proto 94` lists both families.
type Lo struct{}

var _ Loopback = Lo{}

const loLabel = "lo:hapair"

func loAddr(p netip.Prefix, lo vip.Link) vip.Addr {
	a := vip.Addr{Prefix: p, LinkIndex: lo.Index, Proto: vip.Proto}
	if p.Addr().Is4() {
		a.Label = loLabel
	}
	return a
}

// withLo runs f with a netlink handle in this namespace and the lo link.
func withLo(f func(k *vip.Netlink, lo vip.Link) error) error {
	k, err := vip.OpenNetlink("")
	if err != nil {
		return err
	}
	defer k.Close()
	lo, err := k.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo: %w", err)
	}
	return f(k, lo)
}

// find reports whether lo holds p, and whether that copy carries hapair's
// mark.
func find(k *vip.Netlink, lo vip.Link, p netip.Prefix) (present, marked bool, err error) {
	addrs, err := k.Addrs()
	if err != nil {
		return false, false, fmt.Errorf("listing lo's addresses: %w", err)
	}
	for _, a := range addrs {
		if a.LinkIndex == lo.Index && a.Prefix.Addr() == p.Addr() {
			return true, a.Proto == vip.Proto, nil
		}
	}
	return false, false, nil
}

// AddrAdd adds p to lo with hapair's mark and reports true, also when a
// marked copy is there already (left by a run that crashed); an unmarked
// copy (someone else's) is left as it is and reported false, so Stop
// never removes it.
func (Lo) AddrAdd(p netip.Prefix) (ours bool, err error) {
	err = withLo(func(k *vip.Netlink, lo vip.Link) error {
		present, marked, err := find(k, lo, p)
		if err != nil || present && !marked {
			return err
		}
		ours = true
		return k.AddrAdd(lo, loAddr(p, lo))
	})
	return ours, err
}

// RemoveOwned removes p from lo when that copy carries hapair's mark (a
// stale address of a crashed run); it reports whether it did.
func (Lo) RemoveOwned(p netip.Prefix) (removed bool, err error) {
	err = withLo(func(k *vip.Netlink, lo vip.Link) error {
		_, marked, err := find(k, lo, p)
		if err != nil || !marked {
			return err
		}
		removed = true
		return k.AddrDel(lo, loAddr(p, lo))
	})
	return removed, err
}

// AddrDel removes p from lo; gone already is not an error.
func (Lo) AddrDel(p netip.Prefix) error {
	return withLo(func(k *vip.Netlink, lo vip.Link) error {
		present, _, err := find(k, lo, p)
		if err != nil || !present {
			return err
		}
		return k.AddrDel(lo, loAddr(p, lo))
	})
}
