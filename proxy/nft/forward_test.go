package nft_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/nft/nfttest"
)

func handover(vip string, ports ...uint16) nft.Handover {
	return nft.Handover{VIP: netip.MustParseAddr(vip), Ports: ports, Device: "eth0", LinkIndex: 2,
		LinkMAC: mac("02:00:00:00:00:0c"), PeerMAC: mac("02:00:00:00:00:0b")}
}

// The forward's table, chain, flow set and rules against the golden trace;
// a second VIP keeps the first one's flow set (its SYNs seen here), and
// dropping the last VIP removes the table.
func TestForward(t *testing.T) {
	f := &nfttest.Fake{}
	fw := nft.NewForward(f)
	if err := fw.Add(handover("198.18.0.100", 80, 443)); err != nil {
		t.Fatal(err)
	}
	golden(t, "forward", f.Trace())
	if err := fw.Add(handover("198.18.0.101", 80)); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	if strings.Contains(tr, "mine_c6120064 {") || strings.Contains(tr, "set netdev hapair_fwd mine_c6120064") ||
		!strings.Contains(tr, "add set netdev hapair_fwd mine_c6120065") || strings.Count(tr, "commit") != 1 {
		t.Errorf("second Add did not keep the first VIP's flows, or was not one batch:\n%s", tr)
	}
	if err := fw.Drop(netip.MustParseAddr("198.18.0.100")); err != nil {
		t.Fatal(err)
	}
	if tr := f.Trace(); !strings.Contains(tr, "delete set netdev hapair_fwd mine_c6120064") || strings.Contains(tr, "c6120064 ]") {
		t.Errorf("Drop left the dropped VIP's set or rules:\n%s", tr)
	}
	if err := fw.Drop(netip.MustParseAddr("198.18.0.101")); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "dropping the last VIP", "delete table netdev hapair_fwd\ncommit")
	if err := fw.Drop(netip.MustParseAddr("198.18.0.101")); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "dropping a VIP not forwarded", "")
}

// Clear removes a crashed run's marked table and nothing else; a table of
// that name without the marker is another program's.
func TestForwardStaleAndForeign(t *testing.T) {
	f := &nfttest.Fake{}
	if err := nft.NewForward(f).Clear(); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "Clear without a table", "")
	f.SeedTable(nftables.TableFamilyNetdev, nft.ForwardTableName, true, []string{"in_eth0"}, []string{"owner", "mine_c6120064"})
	if err := nft.NewForward(f).Clear(); err != nil {
		t.Fatal(err)
	}
	wantTrace(t, f, "Clear of a stale table", "delete table netdev hapair_fwd\ncommit")
	f.SeedTable(nftables.TableFamilyNetdev, nft.ForwardTableName, false, []string{"in_eth0"}, nil)
	fw := nft.NewForward(f)
	wantNotOurs(t, f, map[string]func() error{"Clear": fw.Clear,
		"Add": func() error { return fw.Add(handover("198.18.0.100", 80)) }})
}

func TestForwardRefuses(t *testing.T) {
	f := &nfttest.Fake{}
	fw := nft.NewForward(f)
	bad := []nft.Handover{handover("2001:db8::100", 80), handover("198.18.0.100"), {VIP: netip.MustParseAddr("198.18.0.100"), Ports: []uint16{80}}}
	for _, h := range bad {
		if err := fw.Add(h); err == nil || !strings.Contains(err.Error(), "handover forward of") {
			t.Errorf("Add(%+v) = %v, want an error naming the forward", h, err)
		}
	}
	wantTrace(t, f, "refused Add", "")
}
