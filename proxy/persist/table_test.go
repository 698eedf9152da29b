package persist

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
)

var (
	clientA = netip.MustParseAddr("198.18.1.1")
	clientB = netip.MustParseAddr("198.18.1.2")
	client6 = netip.MustParseAddr("2001:db8::1")
	real1   = netip.MustParseAddrPort("198.18.2.1:80")
	real2   = netip.MustParseAddrPort("198.18.2.2:80")
)

// newTable returns an empty table with the given timeout on a fake clock
// that starts at the zero time.
func newTable(timeout time.Duration) (*Table, *clocktest.Clock) {
	clk := clocktest.New(time.Time{})
	return New(timeout, clk.Now), clk
}

func wantLookup(t *testing.T, tb *Table, c netip.Addr, want netip.AddrPort, wantOK bool) {
	t.Helper()
	got, ok := tb.Lookup(c)
	if got != want || ok != wantOK {
		t.Fatalf("Lookup(%v) = %v, %v, want %v, %v", c, got, ok, want, wantOK)
	}
}

func TestExpiryAndRefresh(t *testing.T) {
	tb, clk := newTable(300 * time.Second)
	wantLookup(t, tb, clientA, netip.AddrPort{}, false)
	tb.Put(clientA, real1)
	clk.Advance(299 * time.Second)
	wantLookup(t, tb, clientA, real1, true) // refreshes: expires at +599s
	clk.Advance(299 * time.Second)
	wantLookup(t, tb, clientA, real1, true) // still alive only because of the refresh
	clk.Advance(300 * time.Second)          // exactly timeout of inactivity
	wantLookup(t, tb, clientA, netip.AddrPort{}, false)
	if st := tb.Stats(); st.Entries != 0 {
		t.Errorf("Stats().Entries after expired Lookup = %d, want 0", st.Entries)
	}
}

func TestPutOverwritesAndMappedAddr(t *testing.T) {
	tb, _ := newTable(time.Minute)
	tb.Put(clientA, real1)
	tb.Put(netip.AddrFrom16(clientA.As16()), real2) // ::ffff:198.18.1.1 is the same client
	wantLookup(t, tb, clientA, real2, true)
	tb.Put(client6, real1)
	wantLookup(t, tb, client6, real1, true)
}

func TestExpire(t *testing.T) {
	tb, clk := newTable(10 * time.Second)
	tb.Put(clientA, real1)
	clk.Advance(5 * time.Second)
	tb.Put(clientB, real2)
	clk.Advance(5 * time.Second)
	if got := tb.Expire(); got != 1 {
		t.Errorf("Expire() = %d, want 1 (clientA)", got)
	}
	wantLookup(t, tb, clientB, real2, true)
	if got := tb.Expire(); got != 0 {
		t.Errorf("second Expire() = %d, want 0", got)
	}
}

func TestForget(t *testing.T) {
	tb, _ := newTable(time.Minute)
	tb.Put(clientA, real1)
	tb.Put(clientB, real2)
	tb.Put(client6, real1)
	tb.Forget(real1)
	wantLookup(t, tb, clientA, netip.AddrPort{}, false)
	wantLookup(t, tb, client6, netip.AddrPort{}, false)
	wantLookup(t, tb, clientB, real2, true)
}

func TestBoundRefusesNewClients(t *testing.T) {
	tb, clk := newTable(time.Minute)
	tb.SetMaxEntries(shards) // one entry per shard
	for i := range 200 {
		tb.Put(netip.AddrFrom4([4]byte{198, 18, 3, byte(i)}), real1)
	}
	st := tb.Stats()
	if st.Entries > shards || st.Refused == 0 || st.Entries+int(st.Refused) != 200 {
		t.Fatalf("Stats() after 200 Puts with max %d = %+v, want at most %d entries and the rest refused", shards, st, shards)
	}
	// Once the entries expire, a new client is accepted again.
	clk.Advance(time.Minute)
	tb.Put(clientA, real2)
	wantLookup(t, tb, clientA, real2, true)
}

func TestExportImport(t *testing.T) {
	src, clk := newTable(300 * time.Second)
	src.Put(clientA, real1)
	clk.Advance(100 * time.Second)
	src.Put(clientB, real2)
	src.Put(client6, real2)

	// The peer's clock is 1h ahead in wall time; expiries travel as ttl.
	peerClk := clocktest.New(clk.Now().Add(time.Hour))
	dst := New(300*time.Second, peerClk.Now)
	dst.Put(clientB, real1)
	peerClk.Advance(10 * time.Second) // dst's clientB has 290s left, src's 300s: src's wins

	chunks, err := MarshalEntries("web", src.Export(), clk.Now(), 1024)
	if err != nil {
		t.Fatalf("MarshalEntries error: %v", err)
	}
	for _, c := range chunks {
		_, es, err := UnmarshalEntries(c, peerClk.Now())
		if err != nil {
			t.Fatalf("UnmarshalEntries error: %v", err)
		}
		dst.Import(es)
	}
	wantLookup(t, dst, clientA, real1, true)
	wantLookup(t, dst, client6, real2, true)
	wantLookup(t, dst, clientB, real2, true)

	// The Lookups above refreshed every entry to the full 300s.
	peerClk.Advance(299 * time.Second)
	if got := dst.Expire(); got != 0 {
		t.Errorf("Expire() 299s after use = %d, want 0", got)
	}
	peerClk.Advance(time.Second)
	dst.Expire()
	if st := dst.Stats(); st.Entries != 0 {
		t.Errorf("Stats().Entries long after import = %d, want 0", st.Entries)
	}
}

func TestImportConflicts(t *testing.T) {
	tb, clk := newTable(100 * time.Second)
	tb.Put(clientA, real1)
	tb.Put(clientB, real1)
	clk.Advance(10 * time.Second) // both have 90s left
	now := clk.Now()
	tb.Import([]Entry{
		{Client: clientA, Real: real2, Expires: now.Add(50 * time.Second)},     // earlier: ignored
		{Client: clientB, Real: real2, Expires: now.Add(100*time.Second + 1)},  // later: wins
		{Client: client6, Real: real2, Expires: now.Add(time.Hour)},            // capped at timeout
		{Client: netip.MustParseAddr("198.18.9.9"), Real: real2, Expires: now}, // expired: skipped
		{Client: netip.Addr{}, Real: real2, Expires: now.Add(time.Second)},     // invalid: skipped
	})
	wantLookup(t, tb, clientA, real1, true)
	wantLookup(t, tb, clientB, real2, true)
	if st := tb.Stats(); st.Entries != 3 {
		t.Errorf("Stats().Entries = %d, want 3", st.Entries)
	}
	got := map[netip.Addr]time.Time{}
	for _, e := range tb.Export() {
		got[e.Client] = e.Expires
	}
	if want := now.Add(100 * time.Second); !got[client6].Equal(want) {
		t.Errorf("imported 1h expiry became %v, want capped at %v", got[client6], want)
	}
}

func TestConcurrentUse(t *testing.T) {
	tb, _ := newTable(time.Minute)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				c := netip.AddrFrom4([4]byte{198, 18, byte(g), byte(i)})
				tb.Put(c, real1)
				tb.Lookup(c)
				if i%100 == 0 {
					tb.Expire()
					tb.Export()
					tb.Forget(real2)
				}
			}
		})
	}
	wg.Wait()
	if st := tb.Stats(); st.Entries != 4*256 {
		t.Errorf("Stats().Entries = %d, want %d", st.Entries, 4*256)
	}
}

func BenchmarkLookup(b *testing.B) {
	tb, _ := newTable(time.Minute)
	for i := range 1 << 16 {
		tb.Put(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), real1)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tb.Lookup(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
			i++
		}
	})
}
