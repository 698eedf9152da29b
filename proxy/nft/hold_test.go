package nft_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/nft/nfttest"
)

// The hold's table, chain, sets and rules, IPv4 and IPv6, against the
// golden trace; installing again updates it in place in one batch.
func TestHoldInstall(t *testing.T) {
	f := &nfttest.Fake{}
	h := nft.NewHold(f)
	if err := h.Install([]netip.AddrPort{ap("198.18.0.100:80"), ap("198.18.0.100:443"), ap("[2001:db8::100]:80")}); err != nil {
		t.Fatal(err)
	}
	golden(t, "hold", f.Trace())
	if !f.Has(nftables.TableFamilyINet) {
		t.Fatal("no inet table after Install")
	}
	if err := h.Install([]netip.AddrPort{ap("198.18.0.101:80")}); err != nil {
		t.Fatal(err)
	}
	// Updated in place, in one batch: the base chain stays (a new one
	// would be hooked beside it until the commit), and so do the table
	// and its marker.
	tr := f.Trace()
	if strings.Contains(tr, "delete table") || strings.Contains(tr, "add chain") || strings.Count(tr, "commit") != 1 ||
		!strings.Contains(tr, "flush chain inet hapair_hold input") || !strings.Contains(tr, "add element inet hapair_hold hold_v4 { 0xc612006500500000 }") {
		t.Errorf("second Install did not update the hold in place in one batch:\n%s", tr)
	}
}

func TestHoldRelease(t *testing.T) {
	f := &nfttest.Fake{}
	h := nft.NewHold(f)
	if err := h.Release(); err != nil {
		t.Fatalf("Release without a hold = %v, want nil", err)
	}
	wantTrace(t, f, "Release without a hold", "")
	if err := h.Install([]netip.AddrPort{ap("198.18.0.100:80")}); err != nil {
		t.Fatal(err)
	}
	f.Trace()
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "Release", "delete table inet hapair_hold\ncommit")
	if f.Has(nftables.TableFamilyINet) {
		t.Error("hold table left after Release")
	}
}

// A stale marked hold (a crashed run) is removed; one without the marker
// is another program's and is neither replaced nor removed.
func TestHoldStaleAndForeign(t *testing.T) {
	f := &nfttest.Fake{}
	f.SeedTable(nftables.TableFamilyINet, nft.HoldTableName, true, []string{"input"}, []string{"owner", "hold_v4"})
	if err := nft.NewHold(f).Release(); err != nil {
		t.Fatal(err)
	}
	if f.Has(nftables.TableFamilyINet) {
		t.Error("stale hold table not removed")
	}
	f.Trace()
	f.SeedTable(nftables.TableFamilyINet, nft.HoldTableName, false, []string{"input"}, nil)
	h := nft.NewHold(f)
	wantNotOurs(t, f, map[string]func() error{"Release": h.Release,
		"Install": func() error { return h.Install([]netip.AddrPort{ap("198.18.0.100:80")}) }})
}

func TestHoldRefusesNothing(t *testing.T) {
	f := &nfttest.Fake{}
	h := nft.NewHold(f)
	for _, vips := range [][]netip.AddrPort{nil, {netip.AddrPortFrom(netip.MustParseAddr("198.18.0.100"), 0)}, {{}}} {
		if err := h.Install(vips); err == nil || !strings.Contains(err.Error(), "SYN hold") {
			t.Errorf("Install(%v) = %v, want an error naming the hold", vips, err)
		}
	}
	wantTrace(t, f, "refused Install", "")
}
