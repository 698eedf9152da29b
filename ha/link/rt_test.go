package link

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

// TestRealtimeReceive runs lb2 with the realtime receive thread (at normal
// priority when the test may not set SCHED_RR): it delivers a peer's
// packets on two links once, drops a forgery, wakes the OnReceive hook and
// stops at Close.
func TestRealtimeReceive(t *testing.T) {
	p0, p1 := testkit.FreeUDPPair(t), testkit.FreeUDPPair(t)
	lb1 := openNode(t, "lb1", ucastSpec("ucast0", p0), ucastSpec("ucast1", p1))
	lb2 := &node{clock: clocktest.New(time.Time{}), logs: &testkit.Buffer{}}
	s, err := Open(Config{ClusterID: testCluster, Self: "lb2", Nodes: []string{"lb1", "lb2"}, Keyring: clusterKeys(),
		Links:  []Spec{ucastSpec("ucast0", p0), ucastSpec("ucast1", p1)},
		Logger: slog.New(slog.NewTextHandler(lb2.logs, nil)), Clock: lb2.clock, Realtime: true})
	if err != nil {
		t.Fatal(err)
	}
	lb2.Set, lb2.got = s, s.Received()
	woken := make(chan struct{}, 16)
	s.OnReceive(func() { woken <- struct{}{} })
	for seq := range 3 {
		if err := lb1.Send(&wire.Packet{Generation: 1, Keepalive: time.Second}); err != nil {
			t.Fatal(err)
		}
		if d := <-lb2.got; d.Seq != uint64(seq+1) {
			t.Errorf("delivered seq %d, want %d", d.Seq, seq+1)
		}
		<-woken
	}
	newRawSender(t, gtsmTTL, netip.AddrPortFrom(addr2, p0)).send(sealed(t, wire.Packet{Generation: 9}, forgerKeys()))
	testkit.WaitFor(t, "bad-mac drop and duplicates", func() bool {
		st := s.Stats()
		return st.Links[0].Drops[DropBadMAC] == 1 && st.Links[0].Drops[DropDuplicate]+st.Links[1].Drops[DropDuplicate] == 3
	})
	lb2.expectNoDelivery(t)
	if err := s.Close(); err != nil {
		t.Errorf("Close() error: %v", err)
	}
	checkNoReceivers(t, s)
}

// floodTarget opens lb2 with the real keyring on one loopback link and
// returns it with a packet forged by a node without the key.
func floodTarget(tb testing.TB) (*Set, []byte) {
	tb.Helper()
	keys, _, err := authkeys.Parse(strings.NewReader("auth 1\n1 sha256 cluster secret\n"), "authkeys")
	if err != nil {
		tb.Fatal(err)
	}
	port := testkit.FreeUDPPair(tb)
	s, err := Open(Config{ClusterID: testCluster, Self: "lb2", Nodes: []string{"lb1", "lb2"}, Keyring: keys,
		Links: []Spec{ucastSpec("ucast0", port)}, Clock: clocktest.New(time.Time{})})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	p := wire.Packet{ClusterID: testCluster, Sender: "lb1", Generation: 1, Keepalive: time.Second}
	forged, err := wire.Seal(&p, forgerKeys())
	if err != nil {
		tb.Fatal(err)
	}
	return s, forged
}

// TestForgedPacketAllocatesNothing: a flood of forged packets costs a MAC
// each and no garbage (the chaos suite's hostile traffic sends 10,000 a
// second per link), once the rate-limited log line for its source is out.
func TestForgedPacketAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector (sync.Pool drops entries)")
	}
	s, forged := floodTarget(t)
	src := netip.AddrPortFrom(addr3, 694)
	for _, c := range []struct {
		name string
		b    []byte
		ttl  int
	}{{"bad MAC", forged, gtsmTTL}, {"off-link TTL", forged, 64}, {"short", forged[:10], gtsmTTL}} {
		if n := testing.AllocsPerRun(100, func() { s.handle(s.links[0], c.b, c.ttl, src) }); n != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", c.name, n)
		}
	}
}

func BenchmarkHandleForged(b *testing.B) {
	s, forged := floodTarget(b)
	src := netip.AddrPortFrom(addr3, 694)
	b.ReportAllocs()
	for b.Loop() {
		s.handle(s.links[0], forged, gtsmTTL, src)
	}
}
