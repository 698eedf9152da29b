package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/psync"
	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/persist"
)

// tables is a syncTable over plain persist tables, one per service.
type tables struct {
	mu sync.Mutex
	m  map[string]*persist.Table
}

func newTables(services ...string) *tables {
	t := &tables{m: map[string]*persist.Table{}}
	for _, s := range services {
		t.m[s] = persist.New(time.Hour, time.Now)
	}
	return t
}

func (t *tables) PersistenceChanges(max int) map[string][]persist.Entry {
	out := map[string][]persist.Entry{}
	for name, tb := range t.m {
		if es := tb.Changes(max); len(es) > 0 {
			out[name] = es
			max -= len(es)
		}
	}
	return out
}

func (t *tables) ExportPersistenceShard(i int) map[string][]persist.Entry {
	out := map[string][]persist.Entry{}
	for name, tb := range t.m {
		out[name] = tb.ExportShard(i)
	}
	return out
}

func (t *tables) ImportPersistence(es map[string][]persist.Entry) error {
	for name, list := range es {
		tb := t.m[name]
		if tb == nil {
			return fmt.Errorf("no service %q", name)
		}
		tb.Import(list)
	}
	return nil
}

func (t *tables) entries(svc string) int { return t.m[svc].Stats().Entries }

const syncCluster = 77

var syncAddrs = map[string]netip.Addr{
	"lb1": netip.MustParseAddr("127.0.0.1"),
	"lb2": netip.MustParseAddr("127.0.0.2"),
	"lb3": netip.MustParseAddr("127.0.0.3"), // the test's raw sender
}

type syncNode struct {
	*syncer
	set  *link.Set
	tab  *tables
	stop func()
}

// startSyncer runs self's syncer over real loopback sockets until stop
// (or the test's end).
func startSyncer(t testing.TB, self string, gen uint64, port uint16, tab *tables, linkClock clock.Clock) *syncNode {
	t.Helper()
	set, err := link.Open(link.Config{
		ClusterID: syncCluster, Self: self, Nodes: []string{"lb1", "lb2", "lb3"},
		Keyring: testkit.Keyring("cluster-secret"),
		Links:   []link.Spec{{Name: "sync-ucast0", Kind: link.KindUcast, Port: port, Peers: syncAddrs}},
		Clock:   linkClock,
	})
	if err != nil {
		t.Fatalf("opening %s's sync link: %v", self, err)
	}
	s := newSyncer(self, gen, 100*time.Millisecond, set, tab, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			set.Close()
		})
	}
	t.Cleanup(stop)
	return &syncNode{syncer: s, set: set, tab: tab, stop: stop}
}

func client(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}) }

var syncReal = netip.MustParseAddrPort("198.18.200.1:80")

// TestSyncResyncAndDeltas: a standby that starts gets the owner's whole
// table, then its changes; restarted (a new generation, an empty table)
// it gets the whole table again.
func TestSyncResyncAndDeltas(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	owner := newTables("http")
	for i := range 3000 { // 3000 IPv4 entries: about 42 parts
		owner.m["http"].Put(client(i), syncReal)
	}
	lb1 := startSyncer(t, "lb1", 1, port, owner, nil)
	lb2 := startSyncer(t, "lb2", 1, port, newTables("http"), nil)
	testkit.WaitFor(t, "lb2 to hold lb1's whole table", func() bool { return lb2.syncedFrom("lb1") })
	if got := lb2.tab.entries("http"); got != 3000 {
		t.Fatalf("lb2 holds %d entries after the resync, want 3000", got)
	}
	testkit.WaitFor(t, "lb1 to learn that lb2 holds its table", func() bool { return lb1.caughtUp("lb2", 1) })

	// A new client on the owner reaches the standby as a change.
	owner.m["http"].Put(client(5000), syncReal)
	testkit.WaitFor(t, "the new entry on lb2", func() bool {
		r, ok := lb2.tab.m["http"].Lookup(client(5000))
		return ok && r == syncReal
	})

	// The standby restarts empty: it gets everything again.
	lb2.stop()
	lb2 = startSyncer(t, "lb2", 2, port, newTables("http"), nil)
	testkit.WaitFor(t, "the restarted lb2 to hold lb1's whole table", func() bool { return lb2.syncedFrom("lb1") })
	if got := lb2.tab.entries("http"); got != 3001 {
		t.Fatalf("restarted lb2 holds %d entries after the resync, want 3001", got)
	}
	c, _ := lb1.status([]string{"lb2"})
	if c.ResyncsSent < 2 {
		t.Errorf("lb1 sent %d full resyncs, want at least 2 (one per lb2 start)", c.ResyncsSent)
	}
}

// TestSyncDropsForgedAndReplayed: a sync message signed with a key not in
// the keyring, and a genuine one sent again, are dropped and counted by
// reason; neither changes the table. A genuine message whose payload does
// not decode is counted as malformed.
func TestSyncDropsForgedAndReplayed(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	clk := clocktest.New(time.Now())
	lb2 := startSyncer(t, "lb2", 1, port, newTables("http"), clk)
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(syncAddrs["lb2"], port))
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(syncAddrs["lb3"], 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ipv4.NewConn(c).SetTTL(255); err != nil {
		t.Fatal(err)
	}
	delta := func(cl netip.Addr) []byte {
		chunks, err := persist.MarshalEntries("http", []persist.Entry{{Client: cl, Real: syncReal, Expires: time.Now().Add(time.Minute)}}, time.Now(), chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		b, err := (&psync.Message{Type: psync.Delta, N: 1, Chunk: chunks[0]}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seal := func(keys wire.Signer, seq uint64, payload []byte) []byte {
		b, err := wire.Seal(&wire.Packet{ClusterID: syncCluster, Sender: "lb3", Generation: 1, Seq: seq,
			Keepalive: time.Millisecond, Payload: payload}, keys)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	send := func(b []byte) {
		if _, err := c.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
	}
	drops := func(r link.DropReason) uint64 { return lb2.set.Stats().Links[0].Drops[r] }

	send(seal(testkit.Keyring("guessed-secret"), 1, delta(client(1))))
	testkit.WaitFor(t, "the forged message counted as bad-mac", func() bool { return drops(link.DropBadMAC) == 1 })

	genuine := seal(testkit.Keyring("cluster-secret"), 1, delta(client(2)))
	send(genuine)
	testkit.WaitFor(t, "the genuine message imported", func() bool { return lb2.tab.entries("http") == 1 })
	lb2.tab.m["http"].Forget(syncReal) // so a replay that got through would show
	// Past the 1 ms duplicate window the packet names, a copy is a replay.
	clk.Advance(5 * time.Millisecond)
	send(genuine)
	testkit.WaitFor(t, "the replayed message counted as replay", func() bool { return drops(link.DropReplay) == 1 })
	if got := lb2.tab.entries("http"); got != 0 {
		t.Errorf("lb2 holds %d entries after a forged and a replayed message, want 0", got)
	}
	if _, ok := lb2.tab.m["http"].Lookup(client(1)); ok {
		t.Error("the forged message's entry was imported")
	}

	send(seal(testkit.Keyring("cluster-secret"), 2, []byte{1, 9, 3}))
	testkit.WaitFor(t, "the undecodable message counted as malformed", func() bool {
		st, _ := lb2.status(nil)
		return st.Malformed == 1
	})
}
