package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/resource/resourcetest"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/testkit"
)

// traceHold is a synHold writing what the table would hold into a trace.
type traceHold struct {
	tr   *resourcetest.Trace
	mu   sync.Mutex
	fail error // returned by Install and Release, and recorded, while set
}

func (h *traceHold) Install(vips []netip.AddrPort) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		h.tr.Add(fmt.Sprintf("hold %v refused", vips))
		return h.fail
	}
	h.tr.Add(fmt.Sprintf("hold %v", vips))
	return nil
}

func (h *traceHold) Release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		h.tr.Add("release refused")
		return h.fail
	}
	h.tr.Add("hold released")
	return nil
}

func (h *traceHold) setFail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = err
}

var discard = slog.New(slog.DiscardHandler)

func TestHoldSetKeepsOtherKeys(t *testing.T) {
	tr := &resourcetest.Trace{}
	h := &traceHold{tr: tr}
	s := newHoldSet(h, discard)
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
	h.setFail(errors.New("netlink: no buffer space"))
	if err := s.Install("start web", []netip.AddrPort{b}); err == nil {
		t.Error("Install with the kernel refusing: nil error")
	}
	h.setFail(nil)
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
	e := &env{log: discard, holds: newHoldSet(&traceHold{tr: tr}, discard)}
	script := &resourcetest.Fake{ResName: "script", Trace: tr, StartErr: errors.New("cannot mount /srv")}
	rs := e.withStartHold(cfg, g, []resource.Resource{
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

	for _, after := range [][]string{{config.KindBalancer}, {}, {config.KindBalancer, config.KindBalancer}, {config.KindVIP, config.KindBalancer}} {
		cfg, g := startHoldConfig(after...)
		rs := []resource.Resource{&resourcetest.Fake{ResName: "vip", Trace: tr}}
		if got := e.withStartHold(cfg, g, rs); len(got) != len(rs) {
			t.Errorf("group with %v after its VIP: %d resources, want %d (no hold)", after, len(got), len(rs))
		}
	}
	noHolds := &env{log: e.log}
	if got := noHolds.withStartHold(cfg, g, rs); len(got) != len(rs) {
		t.Errorf("without a hold (no nftables): %d resources, want %d", len(got), len(rs))
	}
	// A service of the kernel's (nat, dr) never reaches the input hook
	// the hold is at: a group with no other TCP service is not held.
	kernelOnly := &env{log: e.log, holds: e.holds, kernelNames: map[string]bool{"tcp": true}}
	if got := kernelOnly.withStartHold(cfg, g, rs); len(got) != len(rs) {
		t.Errorf("only a kernel TCP service: %d resources, want %d (no hold)", len(got), len(rs))
	}
	// A reload builds the group from the config not yet in place: the
	// hold is of its VIP.
	next, _ := startHoldConfig(config.KindBalancer, config.KindScript)
	next.Groups[0].Resources[0].VIP.Prefix = netip.MustParsePrefix("198.18.0.110/24")
	next.Services[0].Listen = netip.MustParseAddrPort("198.18.0.110:9000")
	if err := resource.NewGroup("web", e.withStartHold(next, next.Groups[0], nil), resource.Timeouts{}).Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := take(tr), []string{"hold [198.18.0.110:9000]", "hold released"}; !slices.Equal(got, want) {
		t.Errorf("start built from the next config: %q, want %q", got, want)
	}
}

// Resources after the first VIP count, not only after the last: a script
// between two VIPs rolls back the first one.
func TestMayFailAfterVIPs(t *testing.T) {
	vip, bal, scr, cts := config.KindVIP, config.KindBalancer, config.KindScript, config.KindConntrackSync
	for _, c := range []struct {
		kinds []string
		want  bool
	}{
		{[]string{vip, bal}, false},
		{[]string{bal, vip}, false},
		{[]string{vip, vip, bal}, false},
		{[]string{scr, vip, bal}, false}, // fails before any VIP is there
		{[]string{vip, bal, scr}, true},
		{[]string{vip, scr, vip, bal}, true},
		{[]string{vip, bal, cts}, true},
		{[]string{bal, scr}, false}, // no VIP
	} {
		g := config.Group{Name: "web"}
		for _, k := range c.kinds {
			g.Resources = append(g.Resources, config.Resource{Kind: k})
		}
		if got := mayFailAfterVIPs(g); got != c.want {
			t.Errorf("%v: mayFailAfterVIPs = %v, want %v", c.kinds, got, c.want)
		}
	}
}

// A release the kernel refused is retried until it goes through: SYNs to
// a started group must not stay dropped.
func TestHoldSetRetriesRefusedRelease(t *testing.T) {
	tr := &resourcetest.Trace{}
	h := &traceHold{tr: tr}
	s := newHoldSet(h, discard)
	t.Cleanup(func() { s.ReleaseAll() })
	a := netip.MustParseAddrPort("198.18.0.100:80")
	if err := s.Install("start web", []netip.AddrPort{a}); err != nil {
		t.Fatal(err)
	}
	h.setFail(errors.New("netlink: no buffer space"))
	if err := s.Release("start web"); err == nil {
		t.Error("Release with the kernel refusing: nil error")
	}
	h.setFail(nil)
	testkit.WaitFor(t, "the refused release retried", func() bool { return strings.Contains(tr.String(), "hold released") })
	if got, want := take(tr), []string{"hold [198.18.0.100:80]", "release refused", "hold released"}; !slices.Equal(got, want) {
		t.Errorf("kernel ops %q, want %q", got, want)
	}
}
