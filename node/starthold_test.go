package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/resource/resourcetest"
	"github.com/hapair/hapair/internal/config"
)

// traceHold is a synHold writing what the table would hold into a trace.
type traceHold struct {
	tr   *resourcetest.Trace
	fail error // returned by Install
}

func (h *traceHold) Install(vips []netip.AddrPort) error {
	if h.fail != nil {
		return h.fail
	}
	h.tr.Add(fmt.Sprintf("hold %v", vips))
	return nil
}

func (h *traceHold) Release() error {
	h.tr.Add("hold released")
	return nil
}

func TestHoldSetKeepsOtherKeys(t *testing.T) {
	tr := &resourcetest.Trace{}
	h := &traceHold{tr: tr}
	s := newHoldSet(h)
	a, b := netip.MustParseAddrPort("198.18.0.100:80"), netip.MustParseAddrPort("198.18.0.101:443")
	steps := []struct {
		do   func() error
		want []string
	}{
		{func() error { return s.Install("drained move", []netip.AddrPort{b}) }, []string{"hold [198.18.0.101:443]"}},
		{func() error { return s.Install("start web", []netip.AddrPort{a, b}) }, []string{"hold [198.18.0.100:80 198.18.0.101:443]"}},
		// The move's release keeps the start's hold of both.
		{func() error { return s.Release("drained move") }, []string{"hold [198.18.0.100:80 198.18.0.101:443]"}},
		{func() error { return s.Release("drained move") }, nil}, // not held: nothing
		{func() error { return s.Release("start web") }, []string{"hold released"}},
		{func() error { return s.Release("start web") }, nil},
	}
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := take(tr); !slices.Equal(got, st.want) {
			t.Errorf("step %d: kernel ops %q, want %q", i, got, st.want)
		}
	}

	// A refused Install leaves the key as it was: its Release then lifts
	// only what was held before.
	if err := s.Install("start web", []netip.AddrPort{a}); err != nil {
		t.Fatal(err)
	}
	h.fail = errors.New("netlink: no buffer space")
	if err := s.Install("start web", []netip.AddrPort{b}); err == nil {
		t.Error("Install with the kernel refusing: nil error")
	}
	h.fail = nil
	take(tr)
	if err := s.Install("drained move", []netip.AddrPort{b}); err != nil {
		t.Fatal(err)
	}
	if got, want := take(tr), []string{"hold [198.18.0.100:80 198.18.0.101:443]"}; !slices.Equal(got, want) {
		t.Errorf("after a refused Install: %q, want %q (start web still holding only %v)", got, want, a)
	}
	if err := s.ReleaseAll(); err != nil || !slices.Equal(take(tr), []string{"hold released"}) {
		t.Errorf("ReleaseAll: %v", err)
	}
}

// startHoldConfig is a pair's config whose group web holds a VIP, the tcp
// service on it and then resources (kinds after the VIP).
func startHoldConfig(after ...string) (*config.Config, config.Group) {
	g := config.Group{Name: "web", Resources: []config.Resource{
		{Kind: config.KindVIP, VIP: &config.VIP{Prefix: netip.MustParsePrefix("198.18.0.100/24")}},
	}}
	for _, k := range after {
		r := config.Resource{Kind: k}
		if k == config.KindBalancer {
			r.Balancer = &config.Balancer{Services: []string{"tcp", "sip"}}
		}
		g.Resources = append(g.Resources, r)
	}
	cfg := &config.Config{Groups: []config.Group{g}, Services: []config.Service{
		{Name: "tcp", Protocol: "tcp", Listen: netip.MustParseAddrPort("198.18.0.100:9000")},
		{Name: "sip", Protocol: "udp", Listen: netip.MustParseAddrPort("198.18.0.100:5060")},
	}}
	return cfg, g
}

// A failed start after the VIP: the hold is in place before the VIP comes
// and lifted only after the rollback removed it; a start that succeeds
// lifts it after its last resource. Groups with nothing but balancers
// after their VIPs are not held.
func TestStartHoldAroundFailedStart(t *testing.T) {
	ctx := context.Background()
	tr := &resourcetest.Trace{}
	cfg, g := startHoldConfig(config.KindBalancer, config.KindScript)
	e := &env{log: slog.New(slog.DiscardHandler), holds: newHoldSet(&traceHold{tr: tr}), config: func() *config.Config { return cfg }}
	script := &resourcetest.Fake{ResName: "script", Trace: tr, StartErr: errors.New("cannot mount /srv")}
	rs := e.withStartHold(g, []resource.Resource{
		&resourcetest.Fake{ResName: "vip", Trace: tr}, &resourcetest.Fake{ResName: "balancer", Trace: tr}, script})
	grp := resource.NewGroup("web", rs, resource.Timeouts{})
	if err := grp.Start(ctx); err == nil {
		t.Fatal("start with the script failing: nil error")
	}
	want := []string{"hold [198.18.0.100:9000]", "start vip", "start balancer", "start script",
		"stop script", "stop balancer", "stop vip", "hold released"}
	if got := take(tr); !slices.Equal(got, want) {
		t.Errorf("failed start:\n got %q\nwant %q", got, want)
	}

	script.StartErr = nil
	if err := grp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	want = []string{"hold [198.18.0.100:9000]", "start vip", "start balancer", "start script", "hold released"}
	if got := take(tr); !slices.Equal(got, want) {
		t.Errorf("start:\n got %q\nwant %q", got, want)
	}
	if err := grp.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := take(tr), []string{"stop script", "stop balancer", "stop vip"}; !slices.Equal(got, want) {
		t.Errorf("stop: %q, want %q (nothing held to lift)", got, want)
	}

	for _, after := range [][]string{{config.KindBalancer}, {}, {config.KindBalancer, config.KindBalancer}} {
		_, g := startHoldConfig(after...)
		rs := []resource.Resource{&resourcetest.Fake{ResName: "vip", Trace: tr}}
		if got := e.withStartHold(g, rs); len(got) != len(rs) {
			t.Errorf("group with %v after its VIP: %d resources, want %d (no hold)", after, len(got), len(rs))
		}
	}
	noHolds := &env{log: e.log, config: e.config}
	if got := noHolds.withStartHold(g, rs); len(got) != len(rs) {
		t.Errorf("without a hold (no nftables): %d resources, want %d", len(got), len(rs))
	}
}
