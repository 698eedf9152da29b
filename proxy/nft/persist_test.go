package nft_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/nft/nfttest"
)

// Seed entries go into a real's persistence set when Apply creates it,
// each with its time left; a set that exists keeps the kernel's entries.
func TestSeedLoadsNewPersistenceSets(t *testing.T) {
	f := &nfttest.Fake{}
	tb := nft.New(f)
	s := natService()
	client := netip.MustParseAddr("198.18.0.50")
	s.Seed = []nft.Persisted{
		{Client: client, Real: s.Reals[1].Addr, TTL: 42 * time.Second},
		{Client: netip.MustParseAddr("198.18.0.51"), Real: s.Reals[0].Addr, TTL: 0},                  // no time left
		{Client: netip.MustParseAddr("198.18.0.52"), Real: ap("198.18.0.99:8080"), TTL: time.Minute}, // not a real
	}
	if err := tb.Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	tr := f.Trace()
	var seeded []string
	for _, l := range strings.Split(tr, "\n") {
		if strings.HasPrefix(l, "add element ip hapair persist_") {
			seeded = append(seeded, l)
		}
	}
	if len(seeded) != 1 || !strings.Contains(seeded[0], "0xc6120032 timeout 42s") {
		t.Errorf("seeded elements %q, want one: 198.18.0.50 (0xc6120032) with timeout 42s\n%s", seeded, tr)
	}
	s.Seed[0].TTL = time.Minute
	if err := tb.Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	if tr := f.Trace(); strings.Contains(tr, "add element ip hapair persist_") {
		t.Errorf("a second Apply seeded sets that exist (the kernel's entries are newer):\n%s", tr)
	}
}

func TestPersistenceReadsTheSets(t *testing.T) {
	s := natService()
	f := &nfttest.Fake{Elems: map[string][]nftables.SetElement{}}
	tb := nft.New(f)
	if err := tb.Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	var set0 string
	for _, l := range strings.Split(f.Trace(), "\n") {
		if strings.HasPrefix(l, "add set ip hapair persist_") && set0 == "" {
			set0 = strings.Fields(l)[4]
		}
	}
	f.Elems[set0] = []nftables.SetElement{
		{Key: []byte{198, 18, 0, 50}, Expires: 30 * time.Second},
		{Key: []byte{198, 18, 0, 51}}, // expired: no time left
	}
	got, err := tb.Persistence([]nft.Service{s})
	if err != nil {
		t.Fatal(err)
	}
	want := []nft.Persisted{{Client: netip.MustParseAddr("198.18.0.50"), Real: s.Reals[0].Addr, TTL: 30 * time.Second}}
	if len(got["web"]) != 1 || got["web"][0] != want[0] {
		t.Errorf("Persistence = %v, want web: %v (set %s)", got, want, set0)
	}
}

// dr flows: read from the flow sets, seeded into new ones.
func TestFlowsReadAndSeed(t *testing.T) {
	s := drService()
	client := ap("198.18.0.50:40000")
	s.SeedFlows = []nft.Flow{{Client: client, Real: s.Reals[1].Addr, TTL: 100 * time.Second}}
	f := &nfttest.Fake{Elems: map[string][]nftables.SetElement{}}
	tb := nft.New(f)
	if err := tb.Apply([]nft.Service{s}); err != nil {
		t.Fatal(err)
	}
	var sets []string
	tr := f.Trace()
	for _, l := range strings.Split(tr, "\n") {
		if strings.HasPrefix(l, "add set netdev hapair flows_") {
			sets = append(sets, strings.Fields(l)[4])
		}
	}
	// 198.18.0.50 . 40000, the port padded to 4 bytes as nft lays it out.
	if len(sets) != 2 || !strings.Contains(tr, "add element netdev hapair "+sets[1]+" { 0xc61200329c400000 timeout 1m40s }") {
		t.Fatalf("the flow was not seeded into %s's flow set:\n%s", s.Reals[1].Addr, tr)
	}
	f.Elems[sets[1]] = []nftables.SetElement{{Key: []byte{198, 18, 0, 50, 0x9c, 0x40, 0, 0}, Expires: time.Minute}}
	got, err := tb.Flows([]nft.Service{s})
	if err != nil {
		t.Fatal(err)
	}
	if fs := got["sip"]; len(fs) != 1 || fs[0] != (nft.Flow{Client: client, Real: s.Reals[1].Addr, TTL: time.Minute}) {
		t.Errorf("Flows = %v, want sip: %v on %s for 1m", got, client, s.Reals[1].Addr)
	}
}
