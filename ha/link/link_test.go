package link

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

func TestExchange(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	lb1 := openNode(t, "lb1", ucastSpec("ucast0", port))
	lb2 := openNode(t, "lb2", ucastSpec("ucast0", port))

	want := wire.Packet{Generation: 3, Keepalive: 200 * time.Millisecond,
		Groups: []wire.Group{{Name: "web", Priority: 100, State: 2}}, Payload: []byte("sync")}
	if err := lb1.Send(&want); err != nil {
		t.Fatalf("lb1.Send() error: %v", err)
	}
	d := <-lb2.got
	want.Sender, want.ClusterID, want.Seq = "lb1", testCluster, 1 // stamped by Send
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("lb2 delivered %+v, want %+v", *d, want)
	}
	if err := lb2.Send(&wire.Packet{Generation: 9}); err != nil {
		t.Fatalf("lb2.Send() error: %v", err)
	}
	if d := <-lb1.got; d.Sender != "lb2" || d.Generation != 9 {
		t.Errorf("lb1 delivered %+v, want generation 9 from lb2", *d)
	}

	st := lb2.Stats().Links[0]
	wantStats := LinkStats{Name: "ucast0", Kind: "ucast", Sent: 1, Received: 1, Delivered: 1,
		Drops: map[DropReason]uint64{}, LastHeard: map[string]time.Time{"lb1": lb2.clock.Now()},
		Heard: map[string]uint64{"lb1": 1}, SentTo: map[string]uint64{"lb1": 1}}
	if !reflect.DeepEqual(st, wantStats) {
		t.Errorf("lb2.Stats() = %+v, want %+v", st, wantStats)
	}
}

// TestDrops sends one bad datagram per case to lb2 and checks it is counted
// under its own reason only, and nothing is delivered.
func TestDrops(t *testing.T) {
	tests := []struct {
		name    string
		ttl     int
		packets func(t *testing.T) [][]byte // all but the last are accepted setup
		want    DropReason
		wantLog string
	}{
		{"forged with wrong key", 255, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{Seq: 1}, forgerKeys())}
		}, DropBadMAC, "opening packet with key 1: bad MAC"},
		{"truncated", 255, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{Seq: 1}, clusterKeys())[:40]}
		}, DropShort, "opening 40-byte packet"},
		{"tail cut", 255, func(t *testing.T) [][]byte {
			b := sealed(t, wire.Packet{Seq: 1}, clusterKeys())
			return [][]byte{b[:len(b)-1]}
		}, DropMalformed, "MAC length"},
		{"oversized", 255, func(t *testing.T) [][]byte {
			return [][]byte{make([]byte, wire.MaxPacketSize+100)}
		}, DropMalformed, "at most"},
		{"wrong cluster", 255, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{ClusterID: 7, Seq: 1}, clusterKeys())}
		}, DropWrongCluster, `cluster id 7 from \"lb1\", want 4242`},
		{"unknown sender", 255, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{Sender: "lb9", Seq: 1}, clusterKeys())}
		}, DropUnknownSender, `sender \"lb9\" is not one of nodes`},
		{"own name", 255, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{Sender: "lb2", Seq: 1}, clusterKeys())}
		}, DropSelf, `sender \"lb2\" is this node`},
		{"replayed old seq", 255, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{Generation: 5, Seq: 10}, clusterKeys()),
				sealed(t, wire.Packet{Generation: 5, Seq: 9}, clusterKeys())}
		}, DropReplay, "old-seq from \\\"lb1\\\": generation 5 seq 9, last accepted generation 5 seq 10"},
		{"replayed old generation", 255, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{Generation: 5, Seq: 10}, clusterKeys()),
				sealed(t, wire.Packet{Generation: 4, Seq: 99}, clusterKeys())}
		}, DropReplay, "old-generation"},
		{"duplicate", 255, func(t *testing.T) [][]byte {
			b := sealed(t, wire.Packet{Generation: 5, Seq: 10, Keepalive: time.Second}, clusterKeys())
			return [][]byte{b, b}
		}, DropDuplicate, ""},
		{"off-link TTL", 64, func(t *testing.T) [][]byte {
			return [][]byte{sealed(t, wire.Packet{Seq: 1}, clusterKeys())}
		}, DropTTL, "received TTL 64, want 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb2, good := openWithSender(t)
			pkts := tt.packets(t)
			for _, b := range pkts[:len(pkts)-1] {
				good.deliver(lb2, b)
			}
			newRawSender(t, tt.ttl, good.to.AddrPort()).send(pkts[len(pkts)-1])
			testkit.WaitFor(t, tt.want.String()+" drop", func() bool { return lb2.drops(0, tt.want) == 1 })

			st := lb2.Stats().Links[0]
			wantDrops := map[DropReason]uint64{tt.want: 1}
			if !reflect.DeepEqual(st.Drops, wantDrops) {
				t.Errorf("Drops = %v, want %v", st.Drops, wantDrops)
			}
			if st.Received != uint64(len(pkts)) || st.Delivered != uint64(len(pkts)-1) {
				t.Errorf("Received, Delivered = %d, %d, want %d, %d", st.Received, st.Delivered, len(pkts), len(pkts)-1)
			}
			lb2.expectNoDelivery(t)
			logs := lb2.logs.String()
			if tt.wantLog == "" {
				if logs != "" {
					t.Errorf("logged %q, want nothing", logs)
				}
				return
			}
			for _, want := range []string{"heartbeat dropped", "link=ucast0", "peer=127.0.0.3:", "reason=" + tt.want.String(), tt.wantLog} {
				if !strings.Contains(logs, want) {
					t.Errorf("log %q does not contain %q", logs, want)
				}
			}
			if tt.want != DropReplay && tt.want != DropDuplicate && len(st.LastHeard) != 0 {
				t.Errorf("LastHeard = %v after a dropped packet, want empty", st.LastHeard)
			}
		})
	}
}

func TestDropLogRateLimit(t *testing.T) {
	lb2, forger := openWithSender(t)
	forged := sealed(t, wire.Packet{Seq: 1}, forgerKeys())
	for i := 1; i <= 5; i++ {
		forger.send(forged)
		testkit.WaitFor(t, "bad-mac drop", func() bool { return lb2.drops(0, DropBadMAC) == uint64(i) })
	}
	if n := strings.Count(lb2.logs.String(), "heartbeat dropped"); n != 1 {
		t.Fatalf("5 drops within 10s logged %d lines, want 1:\n%s", n, lb2.logs)
	}
	// The one line names the source address, the reason and the node the
	// packet claims to come from.
	for _, want := range []string{"peer=" + forger.c.LocalAddr().String(), "reason=bad-mac", "sender=lb1", "bad MAC"} {
		if !strings.Contains(lb2.logs.String(), want) {
			t.Errorf("log %q lacks %q", lb2.logs, want)
		}
	}
	lb2.clock.Advance(logEvery)
	forger.send(forged)
	testkit.WaitFor(t, "bad-mac drop", func() bool { return lb2.drops(0, DropBadMAC) == 6 })
	logs := lb2.logs.String()
	if n := strings.Count(logs, "heartbeat dropped"); n != 2 || !strings.Contains(logs, "suppressed=4") {
		t.Errorf("after 10s: %d lines, want 2 with suppressed=4:\n%s", n, logs)
	}
}

func TestLimiterBoundsSources(t *testing.T) {
	clock := clocktest.New(time.Time{})
	lim := &limiter{now: clock.Now, entries: map[limiterKey]*limiterEntry{}}
	src := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 694)
	}
	for i := range maxLimiterKeys {
		if ok, _, _ := lim.allow("bad-mac", src(i)); !ok {
			t.Fatalf("allow(source %d) = false, want true", i)
		}
	}
	ok, addr, _ := lim.allow("bad-mac", src(maxLimiterKeys))
	if !ok || addr != "* (too many sources)" {
		t.Errorf("allow(source past the bound) = %v, %q, want true, shared placeholder", ok, addr)
	}
	if ok, _, _ := lim.allow("bad-mac", src(maxLimiterKeys+1)); ok {
		t.Errorf("second source past the bound allowed, want it to share the placeholder's limit")
	}
	if len(lim.entries) != maxLimiterKeys+1 {
		t.Errorf("limiter holds %d keys, want %d", len(lim.entries), maxLimiterKeys+1)
	}
	clock.Advance(logEvery)
	fresh := src(maxLimiterKeys + 2)
	if ok, addr, _ := lim.allow("bad-mac", fresh); !ok || addr != fresh.String() {
		t.Errorf("after 10s allow(%v) = %v, %q, want true, %v (old keys swept)", fresh, ok, addr, fresh)
	}
}

// TestSeveralLinks sends one packet over two links: it is delivered once,
// the copy is a duplicate, and both links count the peer as heard.
func TestSeveralLinks(t *testing.T) {
	p0, p1 := testkit.FreeUDPPair(t), testkit.FreeUDPPair(t)
	lb1 := openNode(t, "lb1", ucastSpec("ucast0", p0), ucastSpec("ucast1", p1))
	lb2 := openNode(t, "lb2", ucastSpec("ucast0", p0), ucastSpec("ucast1", p1))
	if err := lb1.Send(&wire.Packet{Generation: 1, Keepalive: time.Second}); err != nil {
		t.Fatal(err)
	}
	<-lb2.got
	testkit.WaitFor(t, "second copy judged", func() bool {
		st := lb2.Stats()
		return st.Links[0].Drops[DropDuplicate]+st.Links[1].Drops[DropDuplicate] == 1
	})
	st := lb2.Stats()
	var delivered, dups uint64
	for _, l := range st.Links {
		delivered += l.Delivered
		dups += l.Drops[DropDuplicate]
		if _, ok := l.LastHeard["lb1"]; !ok {
			t.Errorf("link %s LastHeard = %v, want lb1 heard", l.Name, l.LastHeard)
		}
		if l.Heard["lb1"] != 1 {
			t.Errorf("link %s Heard = %v, want lb1: 1 (the duplicate counts on its link)", l.Name, l.Heard)
		}
	}
	if delivered != 1 || dups != 1 {
		t.Errorf("delivered %d, duplicates %d, want 1, 1", delivered, dups)
	}
	if s := lb1.Stats(); s.Links[0].Sent != 1 || s.Links[1].Sent != 1 {
		t.Errorf("lb1 sent %d, %d, want 1 on each link", s.Links[0].Sent, s.Links[1].Sent)
	}
	lb2.expectNoDelivery(t)
}

func TestSendErrors(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	lb1 := openNode(t, "lb1", ucastSpec("ucast0", port))
	err := lb1.Send(&wire.Packet{Sender: "lb2"})
	if err == nil || !strings.Contains(err.Error(), `sending packet from "lb2": this node is "lb1"`) {
		t.Errorf("Send(from lb2) error = %v, want node mismatch", err)
	}
	for _, p := range []wire.Packet{{Seq: 5}, {ClusterID: testCluster}} {
		err = lb1.Send(&p)
		if err == nil || !strings.Contains(err.Error(), "the link set stamps both, leave them zero") {
			t.Errorf("Send(%+v) error = %v, want the header fields refused", p, err)
		}
	}
	err = lb1.Send(&wire.Packet{Groups: []wire.Group{{}}})
	if err == nil || !strings.Contains(err.Error(), "link: sending: wire: encoding group") {
		t.Errorf("Send(bad group) error = %v, want encoding error", err)
	}
	lb1.Close()
	err = lb1.Send(&wire.Packet{})
	if err == nil || !strings.Contains(err.Error(), "sending on every link failed") || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close error = %v, want every link failed with net.ErrClosed", err)
	}
	if st := lb1.Stats().Links[0]; st.SendErrors != 1 || st.Sent != 0 {
		t.Errorf("SendErrors, Sent = %d, %d, want 1, 0", st.SendErrors, st.Sent)
	}
}

func TestConfigErrors(t *testing.T) {
	good := func() Config {
		return Config{ClusterID: 1, Self: "lb1", Nodes: []string{"lb1", "lb2"}, Keyring: clusterKeys(),
			Links: []Spec{ucastSpec("u0", 1)}}
	}
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"no self", func(c *Config) { c.Self = "" }, "self node name is empty"},
		{"self not a node", func(c *Config) { c.Self = "lb3" }, `self "lb3" is not among nodes`},
		{"no keyring", func(c *Config) { c.Keyring = nil }, "no keyring"},
		{"no links", func(c *Config) { c.Links = nil }, "no links"},
		{"repeated name", func(c *Config) { c.Links = append(c.Links, ucastSpec("u0", 2)) }, `link 1: name "u0" is empty or repeated`},
		{"bad kind", func(c *Config) { c.Links[0].Kind = "bcast" }, `link "u0": kind: "bcast" is not one of mcast, ucast`},
		{"ucast without self", func(c *Config) { delete(c.Links[0].Peers, "lb1") }, `peers: no address for node "lb1": every node needs one`},
		{"ucast IPv6", func(c *Config) { c.Links[0].Peers["lb2"] = netip.MustParseAddr("::1") }, `peers.lb2: ::1 is not an IPv4 address; links carry IPv4 only`},
		{"ucast stranger", func(c *Config) { c.Links[0].Peers["lb7"] = addr3 }, `peers.lb7: "lb7" is not a node in ["lb1" "lb2"]`},
		{"mcast unicast group", func(c *Config) {
			c.Links[0] = Spec{Name: "m0", Kind: "mcast", Interface: "lo", Group: addr1}
		}, "group: 127.0.0.1 is not a multicast address"},
		{"mcast no interface", func(c *Config) {
			c.Links[0] = Spec{Name: "m0", Kind: "mcast", Group: netip.MustParseAddr("239.1.2.3")}
		}, `link "m0": interface: required for mcast links`},
		{"mcast missing interface", func(c *Config) {
			c.Links[0] = Spec{Name: "m0", Kind: "mcast", Interface: "nonexistent0", Group: netip.MustParseAddr("239.1.2.3")}
		}, `link: "m0": finding interface "nonexistent0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			c.Links[0].Peers = map[string]netip.Addr{"lb1": addr1, "lb2": addr2}
			tt.edit(&c)
			s, err := Open(c)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%s) error = %v, want containing %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestNewRequiresTTLControl: New refuses a conn that cannot report the TTL
// instead of silently skipping the GTSM check.
func TestNewRequiresTTLControl(t *testing.T) {
	c, err := net.ListenPacket("unixgram", "")
	if err != nil {
		t.Skipf("skipping: no unixgram socket: %v", err)
	}
	cfg := Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Keyring: clusterKeys(), Links: []Spec{ucastSpec("u0", 1)},
		Logger: slog.New(slog.DiscardHandler)}
	s, err := New(cfg, []net.PacketConn{c})
	if err == nil {
		s.Close()
		t.Fatal("New(unixgram conn) error = nil, want a TTL option error")
	}
	if !strings.Contains(err.Error(), `link: "u0": setting TTL 255`) {
		t.Errorf("New(unixgram conn) error = %v, want setting TTL 255 error", err)
	}
}

func TestDropReasonString(t *testing.T) {
	want := []string{"ttl", "short", "bad-mac", "malformed", "version", "wrong-cluster", "unknown-sender", "self", "replay", "duplicate", "backlog"}
	for r := range numDropReasons {
		if got := r.String(); got != want[r] {
			t.Errorf("DropReason(%d).String() = %q, want %q", r, got, want[r])
		}
	}
	if got := DropReason(200).String(); got != "DropReason(200)" {
		t.Errorf("DropReason(200).String() = %q, want DropReason(200)", got)
	}
	b, _ := DropBadMAC.MarshalText()
	if string(b) != "bad-mac" {
		t.Errorf("DropBadMAC.MarshalText() = %q, want bad-mac", b)
	}
}

func TestLinkStatsUp(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ls := LinkStats{LastHeard: map[string]time.Time{"lb1": at}}
	tests := []struct {
		peer string
		now  time.Time
		want bool
	}{
		{"lb1", at, true},
		{"lb1", at.Add(2 * time.Second), true},
		{"lb1", at.Add(2*time.Second + 1), false},
		{"lb2", at, false},
	}
	for _, tt := range tests {
		if got := ls.Up(tt.peer, tt.now, 2*time.Second); got != tt.want {
			t.Errorf("Up(%q, %v, 2s) = %v, want %v", tt.peer, tt.now.Sub(at), got, tt.want)
		}
	}
}

// A copy of an accepted packet that arrives after a newer one (it took a
// slower link) is a duplicate within a keepalive, and a replay after that.
func TestLateCopyIsDuplicateThenReplay(t *testing.T) {
	lb2, snd := openWithSender(t)
	keepalive := 100 * time.Millisecond
	seq9 := sealed(t, wire.Packet{Generation: 5, Seq: 9, Keepalive: keepalive}, clusterKeys())
	snd.deliver(lb2, seq9)
	snd.deliver(lb2, sealed(t, wire.Packet{Generation: 5, Seq: 10, Keepalive: keepalive}, clusterKeys()))
	snd.send(seq9)
	testkit.WaitFor(t, "late copy counted as duplicate", func() bool { return lb2.drops(0, DropDuplicate) == 1 })
	if n := lb2.drops(0, DropReplay); n != 0 {
		t.Errorf("late copy within a keepalive: %d replay drops, want 0", n)
	}
	lb2.clock.Advance(keepalive)
	snd.send(seq9)
	testkit.WaitFor(t, "copy a keepalive later counted as replay", func() bool { return lb2.drops(0, DropReplay) == 1 })
	lb2.expectNoDelivery(t)
}

// A copy of the last accepted packet is a duplicate only within the
// duplicate window (the sender's keepalive); later it is a replay and does
// not make the link look alive (issue 9 case 14).
func TestStaleCopyOfLastIsReplay(t *testing.T) {
	lb2, snd := openWithSender(t)
	keepalive := 100 * time.Millisecond
	last := sealed(t, wire.Packet{Generation: 5, Seq: 9, Keepalive: keepalive}, clusterKeys())
	snd.deliver(lb2, last)
	heard := lb2.Stats().Links[0].LastHeard["lb1"]
	snd.send(last)
	testkit.WaitFor(t, "copy within the window counted as duplicate", func() bool { return lb2.drops(0, DropDuplicate) == 1 })
	lb2.clock.Advance(keepalive)
	snd.send(last)
	testkit.WaitFor(t, "copy a keepalive later counted as replay", func() bool { return lb2.drops(0, DropReplay) == 1 })
	if got := lb2.Stats().Links[0].LastHeard["lb1"]; !got.Equal(heard) {
		t.Errorf("last heard after a stale copy = %v, want %v (unchanged)", got, heard)
	}
	lb2.expectNoDelivery(t)
}

// A peer whose generation went back (its state directory was lost) is
// dropped as a replay with the cause in Stats.Dropping, until the operator
// resets its replay state (issue 9 case 4).
func TestDroppingCauseAndResetPeer(t *testing.T) {
	lb2, snd := openWithSender(t)
	snd.deliver(lb2, sealed(t, wire.Packet{Generation: 3, Seq: 7, Keepalive: time.Second}, clusterKeys()))
	wiped := sealed(t, wire.Packet{Generation: 1, Seq: 1, Keepalive: time.Second}, clusterKeys())
	snd.send(wiped)
	testkit.WaitFor(t, "replay drop", func() bool { return lb2.drops(0, DropReplay) == 1 })
	if got, want := lb2.Stats().Dropping, map[string]string{"lb1": "generation 1 < 3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Stats().Dropping = %v, want %v", got, want)
	}
	if err := lb2.ResetPeer("lb9"); err == nil {
		t.Error("ResetPeer(lb9) = nil, want an error for an unknown node")
	}
	if err := lb2.ResetPeer("lb1"); err != nil {
		t.Fatal(err)
	}
	snd.send(wiped)
	if d := <-lb2.got; d == nil || d.Generation != 1 {
		t.Fatalf("after ResetPeer got %+v, want the generation 1 packet", d)
	}
	if got := lb2.Stats().Dropping; len(got) != 0 {
		t.Errorf("Stats().Dropping after an accepted packet = %v, want empty", got)
	}
}

// TestSendStampsHeader checks the Set is the one owner of the cluster id
// and the sequence: each Send gets the next number, from 1.
func TestSendStampsHeader(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	lb1 := openNode(t, "lb1", ucastSpec("ucast0", port))
	lb2 := openNode(t, "lb2", ucastSpec("ucast0", port))
	for want := uint64(1); want <= 3; want++ {
		if err := lb1.Send(&wire.Packet{Generation: 1}); err != nil {
			t.Fatal(err)
		}
		if d := <-lb2.got; d.Seq != want || d.ClusterID != testCluster {
			t.Errorf("packet %d: seq %d cluster %d, want seq %d cluster %d", want, d.Seq, d.ClusterID, want, testCluster)
		}
	}
}

// TestBacklog fills Received without reading it: the packet past the
// backlog is dropped and counted, and the link goes on reading.
func TestBacklog(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	lb1 := openNode(t, "lb1", ucastSpec("ucast0", port))
	lb2 := openNode(t, "lb2", ucastSpec("ucast0", port))
	for i := range uint64(receiveBacklog + 1) {
		if err := lb1.Send(&wire.Packet{Generation: 1}); err != nil {
			t.Fatal(err)
		}
		// One packet in flight at a time, so the socket buffer never drops.
		testkit.WaitFor(t, "packet judged", func() bool {
			st := lb2.Stats().Links[0]
			return st.Delivered+st.Drops[DropBacklog] == i+1
		})
	}
	st := lb2.Stats().Links[0]
	if st.Delivered != receiveBacklog || st.Drops[DropBacklog] != 1 {
		t.Errorf("delivered %d, backlog drops %d, want %d and 1", st.Delivered, st.Drops[DropBacklog], receiveBacklog)
	}
}

// TestRejected attributes dropped packets to the configured peer they come
// from: by the sender a forged packet names, and on a ucast link by the
// peer's configured address whatever name the packet carries. Drops that
// name no peer, duplicates and our own name are not recorded.
func TestRejected(t *testing.T) {
	lb2, forger := openWithSender(t)
	forger.send(sealed(t, wire.Packet{Seq: 1}, forgerKeys()))
	testkit.WaitFor(t, "bad-mac drop", func() bool { return lb2.drops(0, DropBadMAC) == 1 })
	got := lb2.Stats().Rejected
	want := Rejection{Link: "ucast0", Addr: forger.c.LocalAddr().(*net.UDPAddr).AddrPort(), Reason: DropBadMAC, At: lb2.clock.Now(), Count: 1}
	if !reflect.DeepEqual(got, map[string]Rejection{"lb1": want}) {
		t.Errorf("Rejected = %+v, want lb1: %+v", got, want)
	}

	// From lb1's configured address, naming a node we do not know: still lb1.
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ipv4.NewConn(c).SetTTL(64); err != nil {
		t.Fatal(err)
	}
	lb2.clock.Advance(time.Second)
	if _, err := c.WriteToUDP(sealed(t, wire.Packet{Sender: "lb9", Seq: 1}, clusterKeys()), forger.to); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "ttl drop", func() bool { return lb2.drops(0, DropTTL) == 1 })
	rj := lb2.Stats().Rejected["lb1"]
	if rj.Reason != DropTTL || rj.Count != 2 || rj.Addr.Addr() != addr1 || !rj.At.Equal(lb2.clock.Now()) {
		t.Errorf("Rejected[lb1] = %+v, want the TTL drop from %v, count 2", rj, addr1)
	}

	// Another node's name from the attacker's address, and our own: nobody's.
	forger.send(sealed(t, wire.Packet{Sender: "lb9", Seq: 1}, forgerKeys()))
	forger.send(sealed(t, wire.Packet{Sender: "lb2", Seq: 1}, forgerKeys()))
	testkit.WaitFor(t, "bad-mac drops", func() bool { return lb2.drops(0, DropBadMAC) == 3 })
	if got := lb2.Stats().Rejected; len(got) != 1 || got["lb1"].Count != 2 {
		t.Errorf("Rejected = %+v, want lb1 alone with count 2", got)
	}
}
