package persist

import (
	"net/netip"
	"testing"
	"time"
)

func TestChanges(t *testing.T) {
	tb, clk := newTable(80 * time.Second)
	tb.Put(clientA, real1)
	tb.Put(clientB, real2)
	if got := tb.Pending(); got != 2 {
		t.Fatalf("Pending() after two Puts = %d, want 2", got)
	}
	first := tb.Changes(1)
	rest := tb.Changes(10)
	if len(first) != 1 || len(rest) != 1 || first[0].Client == rest[0].Client {
		t.Fatalf("Changes(1), Changes(10) = %v, %v, want one entry each, different clients", first, rest)
	}
	if got := tb.Changes(10); len(got) != 0 {
		t.Fatalf("Changes() with nothing changed = %v, want none", got)
	}

	// A refresh that moves the expiry by less than timeout/8 (10s) is not a change.
	clk.Advance(9 * time.Second)
	wantLookup(t, tb, clientA, real1, true)
	if got := tb.Changes(10); len(got) != 0 {
		t.Fatalf("Changes() after a 9s refresh = %v, want none", got)
	}
	clk.Advance(time.Second)
	wantLookup(t, tb, clientA, real1, true)
	got := tb.Changes(10)
	if len(got) != 1 || got[0].Client != clientA || got[0].Expires != clk.Now().Add(80*time.Second) {
		t.Fatalf("Changes() after a 10s refresh = %v, want clientA expiring at %v", got, clk.Now().Add(80*time.Second))
	}

	// Imported entries are the peer's: never echoed back.
	peer := New(80*time.Second, clk.Now)
	peer.Import([]Entry{{Client: clientA, Real: real1, Expires: clk.Now().Add(time.Minute)}})
	if got := peer.Changes(10); len(got) != 0 {
		t.Fatalf("Changes() after Import = %v, want none", got)
	}

	// A change whose entry is gone is dropped with it, so the change set
	// never outgrows the table.
	tb.Put(clientB, real2)
	tb.Forget(real2)
	clk.Advance(time.Second)
	tb.Put(client6, real1)
	clk.Advance(81 * time.Second)
	tb.Expire()
	if got := tb.Pending(); got != 0 {
		t.Fatalf("Pending() after Forget and Expire = %d, want 0", got)
	}
}

func TestExportShardsMakeExport(t *testing.T) {
	tb, _ := newTable(time.Minute)
	for i := range 200 {
		tb.Put(netip.AddrFrom4([4]byte{198, 18, 3, byte(i)}), real1)
	}
	n := 0
	for i := range Shards {
		n += len(tb.ExportShard(i))
	}
	if all := len(tb.Export()); n != 200 || all != 200 {
		t.Errorf("ExportShard over every part = %d entries, Export = %d, want 200 each", n, all)
	}
}
