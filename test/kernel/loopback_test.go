package kernel

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha/bgp"
)

// The bgp resource's loopback addresses are marked as hapair's (IFA_PROTO,
// as the vip resource marks its addresses): a marked copy a crashed run
// left is recognised and removed, someone else's copy of the same address
// is never claimed nor removed. (IPv4 here: the lab uses 198.18.0.0/15
// only; IPv6 copies carry the same mark, which is why it is a mark and
// not the lo:hapair label, which the kernel keeps for IPv4 only.)
func TestLoopbackMarksItsAddresses(t *testing.T) {
	s := newNAT(t)
	lb1 := s.l.Host("lb1")
	ours, theirs := netip.MustParsePrefix("198.18.250.1/32"), netip.MustParsePrefix("198.18.250.2/32")
	lb1.Sh(t, "ip addr add "+theirs.String()+" dev lo")
	showLo := func() string {
		out, err := lb1.RunFor(5*time.Second, "ip", "-4", "addr", "show", "dev", "lo")
		if err != nil {
			t.Fatalf("ip addr show dev lo: %v: %s", err, out)
		}
		return string(out)
	}
	var lo bgp.Lo
	step := func(what string, f func() (bool, error), want bool) {
		t.Helper()
		var got bool
		if err := inNetns(lb1.Netns, func() (err error) { got, err = f(); return err }); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v, nil\n%s", what, got, err, want, showLo())
		}
	}
	step("AddrAdd(ours)", func() (bool, error) { return lo.AddrAdd(ours) }, true)
	if out := showLo(); !strings.Contains(out, ours.String()) || !strings.Contains(out, "lo:hapair") {
		t.Errorf("after AddrAdd lo holds:\n%s\nwant %s labelled lo:hapair", out, ours)
	}
	// A second add, as after a crash and restart, finds our marked copy.
	step("AddrAdd(ours) again", func() (bool, error) { return lo.AddrAdd(ours) }, true)
	step("AddrAdd(theirs)", func() (bool, error) { return lo.AddrAdd(theirs) }, false)
	step("RemoveOwned(theirs)", func() (bool, error) { return lo.RemoveOwned(theirs) }, false)
	step("RemoveOwned(ours)", func() (bool, error) { return lo.RemoveOwned(ours) }, true)
	out := showLo()
	if strings.Contains(out, ours.String()) || !strings.Contains(out, theirs.String()) {
		t.Errorf("after RemoveOwned lo holds:\n%s\nwant %s gone and %s kept", out, ours, theirs)
	}
	step("AddrDel(ours) when gone", func() (bool, error) { return false, lo.AddrDel(ours) }, false)
}
