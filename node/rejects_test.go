package node

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/testkit"
)

// TestRejectWatch follows one episode: lb2's packets fail authentication
// while it is not alive (a warning), this node then holds web (an error
// naming the split brain and the remedy, repeated after rejectRepeat, not
// before), and lb2 is heard again (an info line). A peer that is alive, or
// whose last rejected packet is older than the window, gives no line.
func TestRejectWatch(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	w := newRejectWatch(400 * time.Millisecond)
	bad := func(at time.Time) map[string]link.Rejection {
		return map[string]link.Rejection{"lb2": {Link: "ucast0", Addr: netip.MustParseAddrPort("198.18.0.12:694"), Reason: link.DropBadMAC, At: at, Count: 3}}
	}
	type want struct {
		level slog.Level
		has   []string
	}
	check := func(step string, got []rejectLine, wants ...want) {
		t.Helper()
		if len(got) != len(wants) {
			t.Fatalf("%s: %d lines %+v, want %d", step, len(got), got, len(wants))
		}
		for i, w := range wants {
			if got[i].level != w.level {
				t.Errorf("%s: line %d level %v, want %v", step, i, got[i].level, w.level)
			}
			for _, s := range w.has {
				if !strings.Contains(got[i].msg, s) {
					t.Errorf("%s: line %q lacks %q", step, got[i].msg, s)
				}
			}
		}
	}
	check("alive peer", w.step(t0, bad(t0), map[string]bool{"lb2": true}, []string{"web"}))
	check("stale rejection", w.step(t0, bad(t0.Add(-2*time.Second)), nil, []string{"web"}))
	check("onset, holding nothing", w.step(t0, bad(t0), nil, nil),
		want{slog.LevelWarn, []string{"peer lb2 is heard only through heartbeats this node drops (bad-mac)", "bad authentication", "same authkeys file"}})
	check("still, holding nothing", w.step(t0.Add(time.Second), bad(t0.Add(time.Second)), nil, nil))
	check("now holding web", w.step(t0.Add(2*time.Second), bad(t0.Add(2*time.Second)), nil, []string{"web"}),
		want{slog.LevelError, []string{"split brain likely", "peer lb2", "hold web too", "bad authentication"}})
	check("within the repeat", w.step(t0.Add(30*time.Second), bad(t0.Add(30*time.Second)), nil, []string{"web"}))
	check("repeat", w.step(t0.Add(62*time.Second), bad(t0.Add(62*time.Second)), nil, []string{"web"}),
		want{slog.LevelError, []string{"split brain likely"}})
	check("heard again", w.step(t0.Add(63*time.Second), bad(t0.Add(62*time.Second)), map[string]bool{"lb2": true}, []string{"web"}),
		want{slog.LevelInfo, []string{"peer lb2: its heartbeats are accepted again"}})
	check("quiet after", w.step(t0.Add(64*time.Second), bad(t0.Add(62*time.Second)), map[string]bool{"lb2": true}, []string{"web"}))

	w = newRejectWatch(400 * time.Millisecond)
	r := bad(t0)
	rj := r["lb2"]
	rj.Reason = link.DropReplay
	r["lb2"] = rj
	check("replay onset", w.step(t0, r, nil, []string{"web"}),
		want{slog.LevelWarn, []string{"(replay)", "hactl peer reset lb2"}}, want{slog.LevelError, []string{"split brain likely"}})
	check("replays stop", w.step(t0.Add(3*time.Second), r, nil, []string{"web"}),
		want{slog.LevelInfo, []string{"no more dropped heartbeats"}})
}

// TestLinkConfigLogs: the heartbeat links node builds log to had's logger
// (they once got none, and link discarded every dropped-heartbeat line):
// a forged packet on a link opened from linkConfig gives a line naming the
// source, the reason and the node it claims to be, and the persistence
// sync's links keep a logger that writes too.
func TestLinkConfigLogs(t *testing.T) {
	port := testkit.FreeUDPPair(t)
	cfg := &config.Config{Cluster: config.Cluster{ID: 7, Nodes: []string{"lb1", "lb2"}}, Links: []config.Link{{
		Name: "ucast0", Kind: "ucast", Port: port,
		Peers: map[string]netip.Addr{"lb1": netip.MustParseAddr("127.0.0.1"), "lb2": netip.MustParseAddr("127.0.0.2")},
	}}}
	kr, _, err := authkeys.Parse(strings.NewReader("auth 1\n1 sha256 the cluster's secret\n"), "authkeys")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	// had's logger carries this node's name (node=lb2); the drop line
	// names the sender under another key, in text and JSON alike.
	lc := linkConfig(cfg, "lb2", kr, slog.New(slog.NewJSONHandler(logs, nil)).With("node", "lb2"))
	if sc := syncLinkConfig(lc); sc.Logger == nil || !sc.Logger.Handler().Enabled(context.Background(), slog.LevelWarn) {
		t.Errorf("persistence sync links' logger %v discards warnings", sc.Logger)
	}
	set, err := link.Open(lc)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()

	other, _, err := authkeys.Parse(strings.NewReader("auth 1\n1 sha256 a-different-secret\n"), "authkeys")
	if err != nil {
		t.Fatal(err)
	}
	forged, err := wire.Seal(&wire.Packet{ClusterID: 7, Sender: "lb1", Generation: 1, Seq: 1}, other)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ipv4.NewConn(c).SetTTL(255); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteToUDP(forged, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: int(port)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the drop logged", func() bool { return strings.Contains(logs.String(), "heartbeat dropped") })
	for _, want := range []string{`"component":"heartbeat"`, `"peer":"` + c.LocalAddr().String() + `"`, `"reason":"bad-mac"`, `"sender":"lb1"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q lacks %q", logs, want)
		}
	}
	if n := strings.Count(logs.String(), `"node":`); n != 1 {
		t.Errorf("log %q has %d node keys, want 1 (this node's)", logs, n)
	}
}

// TestRejectedStatus: status names a dead peer's recent rejected packets
// with the remedy, and nothing for a live peer, an old rejection or a
// replay (status says "dropping" for that).
func TestRejectedStatus(t *testing.T) {
	now := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	rj := map[string]link.Rejection{"lb2": {Link: "mcast0", Addr: netip.MustParseAddrPort("198.18.0.12:694"), Reason: link.DropBadMAC, At: now.Add(-time.Second), Count: 9}}
	want := "bad-mac from 198.18.0.12:694 on mcast0: bad authentication: they verify with no key of our authkeys file; give every node the same authkeys file"
	if got := rejectedStatus("lb2", false, rj, now, 400*time.Millisecond); got != want {
		t.Errorf("rejectedStatus = %q, want %q", got, want)
	}
	if got := rejectedStatus("lb2", true, rj, now, 400*time.Millisecond); got != "" {
		t.Errorf("alive: rejectedStatus = %q, want none", got)
	}
	if got := rejectedStatus("lb2", false, rj, now.Add(2*time.Second), 400*time.Millisecond); got != "" {
		t.Errorf("old: rejectedStatus = %q, want none", got)
	}
	r := rj["lb2"]
	r.Reason = link.DropSelf
	if got := rejectedStatus("lb2", false, map[string]link.Rejection{"lb2": r}, now, 400*time.Millisecond); !strings.Contains(got, "lb2 runs with our name") {
		t.Errorf("self: rejectedStatus = %q, want lb2 named as running with our name", got)
	}
	r.Reason = link.DropReplay
	if got := rejectedStatus("lb2", false, map[string]link.Rejection{"lb2": r}, now, 400*time.Millisecond); got != "" {
		t.Errorf("replay: rejectedStatus = %q, want none", got)
	}
}
