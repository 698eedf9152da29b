package node

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/psync"
	"github.com/hapair/hapair/proxy"
)

// TestReadiness: a gated group's readiness counts the healthy reals of its
// services, drained or not (a drain is no ill health) (not the fallback, not other groups' services), and
// waits for the persistence table only from a peer that owns the group and
// only when a service of the group has a synced table (persistence, or a
// dr flow table).
func TestReadiness(t *testing.T) {
	snap := &proxy.Snapshot{Services: []proxy.ServiceStatus{
		{Name: "http", Reals: []proxy.RealStatus{
			{Pool: "primary", Healthy: true}, {Pool: "primary", Healthy: false},
			{Pool: "primary", Healthy: true, Draining: true}, {Pool: "backup", Healthy: true},
			{Pool: "fallback", Healthy: true}}},
		{Name: "sip", Reals: []proxy.RealStatus{{Pool: "primary", Healthy: true}}},
		{Name: "other", Reals: []proxy.RealStatus{{Pool: "primary", Healthy: true}}},
	}}
	web := config.Group{Name: "web", Resources: []config.Resource{
		{Kind: config.KindVIP, VIP: &config.VIP{}},
		{Kind: config.KindBalancer, Balancer: &config.Balancer{Services: []string{"http", "sip"}}}}}
	cfg := &config.Config{Groups: []config.Group{web}, Services: []config.Service{
		{Name: "http", Persistent: time.Minute}, {Name: "sip"}, {Name: "other"}}}
	if !failbackGated(web) || failbackGated(config.Group{Resources: web.Resources[:1]}) ||
		failbackGated(config.Group{ActiveActive: true, Resources: web.Resources}) {
		t.Error("failbackGated: want only an active-passive group with a balancer gated")
	}

	s := newSyncer("lb1", 1, 100*time.Millisecond, nil, newTables("http"), nil, slog.New(slog.DiscardHandler))
	n := &Node{self: "lb1", sync: s}
	if r := n.readiness(cfg, web, snap, ""); r.healthy != 4 || !r.synced {
		t.Errorf("readiness without owner = %+v, want 4 healthy (primary, drained, backup and sip's), synced", r)
	}
	r := n.readiness(cfg, web, snap, "lb2")
	if r.synced || !strings.Contains(r.behind, "no complete full resync from lb2") {
		t.Errorf("readiness before lb2's resync = %+v, want not synced, naming lb2", r)
	}
	for i, m := range []psync.Message{{Type: psync.Begin, N: 1, Epoch: 1}, {Type: psync.End, N: 2, Epoch: 1}} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		s.handle(&wire.Packet{Sender: "lb2", Generation: 5, Seq: uint64(i + 1), Payload: b})
	}
	if r := n.readiness(cfg, web, snap, "lb2"); !r.synced || r.behind != "" {
		t.Errorf("readiness after lb2's full resync = %+v, want synced", r)
	}
	cfg.Services[1].Method = "dr" // a dr service's flow table is synced too
	if r := (&Node{self: "lb1", sync: newSyncer("lb1", 1, time.Second, nil, newTables(), nil, slog.New(slog.DiscardHandler))}).readiness(cfg, web, snap, "lb2"); r.synced {
		t.Errorf("readiness of a group with a dr service before the peer's resync = %+v, want not synced", r)
	}
	cfg.Services[0].Persistent, cfg.Services[1].Method = 0, ""
	if r := (&Node{self: "lb1", sync: newSyncer("lb1", 1, time.Second, nil, newTables(), nil, slog.New(slog.DiscardHandler))}).readiness(cfg, web, snap, "lb2"); !r.synced {
		t.Errorf("readiness of a group without persistence = %+v, want synced (nothing to wait for)", r)
	}
}

// TestFailbackMinHealthyNeedsRestart: the machine's failback rules are
// fixed at start, so a reload changing failback_min_healthy is refused
// with the reason, not taken silently without effect.
func TestFailbackMinHealthyNeedsRestart(t *testing.T) {
	a := &config.Config{Groups: []config.Group{{Name: "web"}}}
	b := &config.Config{Groups: []config.Group{{Name: "web", FailbackMinHealthy: 2}}}
	got := strings.Join(restartReasons(a, b), "; ")
	if !strings.Contains(got, "group web: failback_min_healthy changed from 0 to 2") {
		t.Errorf("restartReasons = %q, want the failback_min_healthy change named", got)
	}
}

// TestReadinessPace: the readiness is polled at readinessEvery only while
// a gated group has a table the persistence sync carries (its progress
// announces nothing); otherwise a health change or a reload pokes it and
// the poll is a backstop.
func TestReadinessPace(t *testing.T) {
	web := config.Group{Name: "web", Resources: []config.Resource{
		{Kind: config.KindBalancer, Balancer: &config.Balancer{Services: []string{"http"}}}}}
	plain := &config.Config{Groups: []config.Group{web}, Services: []config.Service{{Name: "http"}}}
	sticky := &config.Config{Groups: []config.Group{web}, Services: []config.Service{{Name: "http", Persistent: time.Minute}}}
	gated := map[string]bool{"web": true}
	for _, c := range []struct {
		name     string
		cfg      *config.Config
		gated    map[string]bool
		haveSync bool
		want     time.Duration
	}{
		{"no synced table", plain, gated, true, readinessBackstop},
		{"synced table, no sync open", sticky, gated, false, readinessBackstop},
		{"synced table of a gated group", sticky, gated, true, readinessEvery},
		{"synced table of an ungated group", sticky, map[string]bool{}, true, readinessBackstop},
	} {
		if got := readinessPace(c.cfg, c.gated, c.haveSync); got != c.want {
			t.Errorf("%s: readinessPace = %v, want %v", c.name, got, c.want)
		}
	}
	if readinessBackstop <= readinessEvery {
		t.Errorf("readinessBackstop %v not above readinessEvery %v", readinessBackstop, readinessEvery)
	}
}

// TestPokeReadiness: pokes while one is pending are one, and never block,
// also on a Node built without the channel (tests' &Node{}).
func TestPokeReadiness(t *testing.T) {
	n := &Node{readinessPoke: make(chan struct{}, 1)}
	n.pokeReadiness()
	n.pokeReadiness()
	if len(n.readinessPoke) != 1 {
		t.Fatalf("%d pokes pending, want 1", len(n.readinessPoke))
	}
	<-n.readinessPoke
	(&Node{}).pokeReadiness() // no channel: returns
}
