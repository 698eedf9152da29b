package node

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/proxytest"
)

func TestServicesHealthy(t *testing.T) {
	up := proxy.RealStatus{Pool: "primary", Healthy: true}
	down := proxy.RealStatus{Pool: "primary"}
	backup := proxy.RealStatus{Pool: "backup", Healthy: true}
	drained := proxy.RealStatus{Pool: "primary", Healthy: true, Draining: true}
	snap := &proxy.Snapshot{Services: []proxy.ServiceStatus{
		{Name: "a", Reals: []proxy.RealStatus{down, up}},
		{Name: "b", Reals: []proxy.RealStatus{down, backup, drained}},
	}}
	for _, tt := range []struct {
		services []string
		want     bool
	}{
		{[]string{"a"}, true},
		{[]string{"b"}, false}, // only a backup and a drained real: not serving the primary pool
		{[]string{"a", "b"}, false},
		{nil, true},
	} {
		if got := servicesHealthy(snap, tt.services); got != tt.want {
			t.Errorf("servicesHealthy(%v) = %v, want %v", tt.services, got, tt.want)
		}
	}
	if servicesHealthy(nil, []string{"a"}) {
		t.Error("servicesHealthy(no balancer, [a]) = true, want false")
	}
}

func TestGateInterval(t *testing.T) {
	iv := map[string]time.Duration{"fast": 200 * time.Millisecond, "slow": 2 * time.Second, "tiny": 50 * time.Millisecond}
	for _, tt := range []struct {
		services []string
		want     time.Duration
	}{
		{nil, 100 * time.Millisecond},
		{[]string{"slow"}, 100 * time.Millisecond},
		{[]string{"slow", "fast"}, 25 * time.Millisecond},
		{[]string{"tiny"}, 20 * time.Millisecond},
	} {
		if got := gateInterval(iv, tt.services); got != tt.want {
			t.Errorf("gateInterval(%v) = %v, want %v", tt.services, got, tt.want)
		}
	}
}

// TestStatusActiveActive: an active-active group shows this node as its
// owner, master, while its resources run here, whatever the machine says.
func TestStatusActiveActive(t *testing.T) {
	cfg := &config.Config{
		Cluster: config.Cluster{Name: "web", ID: 7, Nodes: []string{"lb1", "lb2"}},
		Groups:  []config.Group{{Name: "edge", Preference: []string{"lb1"}, ActiveActive: true}},
	}
	for _, held := range []bool{true, false} {
		in := statusInput{cfg: cfg, self: "lb2", held: func(string) bool { return held }, timeline: func(string) (a, b, c time.Time) { return },
			machine: ha.Status{Groups: []ha.GroupStatus{{Name: "edge", Owner: "lb1", State: ha.StateStandby}}}}
		g := assembleStatus(in).Groups[0]
		wantOwner, wantState := "", "standby"
		if held {
			wantOwner, wantState = "lb2", "master"
		}
		if g.Mode != "active-active" || g.Owner != wantOwner || g.State != wantState {
			t.Errorf("held %v: group status = mode %q owner %q state %q, want active-active %q %q", held, g.Mode, g.Owner, g.State, wantOwner, wantState)
		}
	}
}

// TestRestartReasonsBGP: BGP sessions, a group's mode and its announced
// addresses are fixed at start; a reload that changes them is refused.
func TestRestartReasonsBGP(t *testing.T) {
	group := func(aa bool, addr string) config.Group {
		return config.Group{Name: "edge", ActiveActive: aa, Resources: []config.Resource{
			{Kind: config.KindBGP, BGP: &config.BGPResource{Addresses: []netip.Addr{netip.MustParseAddr(addr)}}}}}
	}
	base := &config.Config{BGP: &config.BGP{ASN: 65001}, Groups: []config.Group{group(true, "198.18.2.100")}}
	for _, tt := range []struct {
		name string
		next *config.Config
		want string
	}{
		{"asn", &config.Config{BGP: &config.BGP{ASN: 65002}, Groups: base.Groups}, "bgp changed, which needs a restart of had (BIRD's sessions are configured at start)"},
		{"mode", &config.Config{BGP: base.BGP, Groups: []config.Group{group(false, "198.18.2.100")}}, "group edge: mode changed from true to false"},
		{"addresses", &config.Config{BGP: base.BGP, Groups: []config.Group{group(true, "198.18.2.101")}}, `group edge: bgp addresses changed from ["198.18.2.100"] to ["198.18.2.101"], which needs a restart of had (BIRD's config, with every group's routes, is written at start)`},
	} {
		got := strings.Join(restartReasons(base, tt.next), "; ")
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s: restartReasons = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := restartReasons(base, base); len(got) != 0 {
		t.Errorf("restartReasons(same) = %q, want none", got)
	}
}

// TestMakeBeforeBreak: a group announced only by BGP (bgp and balancer
// resources) hands over make-before-break; one with an ARP vip or a
// script does not, nor one without bgp; a reload that changes which it
// is needs a restart.
func TestMakeBeforeBreak(t *testing.T) {
	bgp := config.Resource{Kind: config.KindBGP, BGP: &config.BGPResource{Addresses: []netip.Addr{netip.MustParseAddr("198.18.2.100")}}}
	bal := config.Resource{Kind: config.KindBalancer, Balancer: &config.Balancer{}}
	vip := config.Resource{Kind: config.KindVIP, VIP: &config.VIP{}}
	script := config.Resource{Kind: config.KindScript, Script: &config.Script{}}
	for _, tt := range []struct {
		name string
		res  []config.Resource
		want bool
	}{
		{"bgp", []config.Resource{bgp}, true},
		{"balancer and bgp", []config.Resource{bal, bgp}, true},
		{"vip and bgp", []config.Resource{vip, bal, bgp}, false},
		{"script and bgp", []config.Resource{bal, bgp, script}, false},
		{"balancer alone", []config.Resource{bal}, false},
	} {
		g := config.Group{Name: "edge", Preference: []string{"lb1"}, Resources: tt.res}
		cfg := &config.Config{Cluster: config.Cluster{Nodes: []string{"lb1", "lb2"}}, Groups: []config.Group{g}}
		if got := machineConfig(cfg, "lb1", 1).Groups[0].MakeBeforeBreak; got != tt.want {
			t.Errorf("%s: MakeBeforeBreak = %v, want %v", tt.name, got, tt.want)
		}
	}
	a := &config.Config{Groups: []config.Group{{Name: "edge", Resources: []config.Resource{bal, bgp}}}}
	b := &config.Config{Groups: []config.Group{{Name: "edge", Resources: []config.Resource{vip, bal, bgp}}}}
	want := "group edge: make-before-break handover (bgp and balancer resources only) changed from true to false, which needs a restart of had"
	if got := strings.Join(restartReasons(a, b), "; "); !strings.Contains(got, want) {
		t.Errorf("restartReasons(vip added to a bgp group) = %q, want %q", got, want)
	}
}

// A stop lets the connections in flight finish (drainOpen, after every
// group has stopped) rather than Close resetting them, and the bgp
// resource's Arrivals counts each new connection (its quiet wait after a
// withdraw).
func TestStopDrainsConnectionsInFlight(t *testing.T) {
	backend := proxytest.TCP(t, "a")
	b, err := proxy.New(proxy.Config{Services: []proxy.ServiceConfig{{Name: "echo", Listen: proxytest.ClosedPort(t),
		Reals: []proxy.RealConfig{{Address: backend.Addr, Weight: 1}}}}}, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Activate("echo"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the real checked healthy", func() bool {
		rs := b.Snapshot().Services[0].Reals
		return len(rs) == 1 && rs[0].Healthy
	})
	count := arrivals(b, []string{"echo"})
	if arrivals(nil, []string{"echo"}) != nil || count() != 0 {
		t.Fatalf("arrivals before any connection = %d (nil balancer: a func), want 0 and nil", count())
	}
	c := proxytest.Dial(t, b.Snapshot().Services[0].Listen)
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the balancer = %q, %v", buf, err)
	}
	if got := count(); got != 1 {
		t.Errorf("arrivals after one connection = %d, want 1", got)
	}
	var logged testkit.Buffer
	n := &Node{balancer: b, log: slog.New(slog.NewTextHandler(&logged, nil))}
	done := make(chan time.Duration, 1)
	go func() {
		began := time.Now()
		n.drainOpen(context.Background(), time.Minute) // a bound no run reaches: the test's own steps may stall under load
		done <- time.Since(began)
	}()
	// The drain has seen the connection open (the goroutine may start
	// late on a loaded machine: closing before it looks would leave
	// nothing to drain) and waits for it.
	testkit.WaitFor(t, "the drain to see the open connection", func() bool {
		return strings.Contains(logged.String(), "stop: waiting for connections in flight")
	})
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("echo during the drain = %q, %v; want the connection served", buf, err)
	}
	select {
	case took := <-done:
		t.Fatalf("drainOpen returned after %v with a connection open", took)
	default:
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(c); err != nil || string(rest) != "|a" {
		t.Fatalf("end of the exchange = %q, %v; want the real's |a", rest, err)
	}
	c.Close()
	if took := <-done; took >= time.Minute {
		t.Errorf("drainOpen took %v, want it to end with the connection, before its bound", took)
	}
	testkit.Substrings(t, "log", logged.String(), []string{"stop: connections in flight drained", "open=1"}, []string{"still open"})
}
