package node

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy/nft"
)

// fakeForward records the forwards in place and what the VIP saw.
type fakeForward struct {
	mu      sync.Mutex
	on      map[netip.Addr]nft.Handover
	added   []nft.Handover
	failAdd error
}

func (f *fakeForward) Add(h nft.Handover) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAdd != nil {
		return f.failAdd
	}
	if f.on == nil {
		f.on = map[netip.Addr]nft.Handover{}
	}
	f.on[h.VIP] = h
	f.added = append(f.added, h)
	return nil
}

func (f *fakeForward) Drop(a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.on, a)
	return nil
}

func (f *fakeForward) Clear() error { return nil }

func (f *fakeForward) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.on)
}

// vipStart stands in for the VIP: it records how many forwards were in
// place when it was added.
type vipStart struct {
	f    *fakeForward
	seen *int
}

func (v vipStart) Name() string                 { return "vip" }
func (v vipStart) Start(context.Context) error  { *v.seen = v.f.count(); return nil }
func (v vipStart) Stop(context.Context) error   { return nil }
func (v vipStart) Status(context.Context) error { return nil }

var (
	fwdVIP     = netip.MustParseAddr("198.18.0.100")
	ownMAC, _  = net.ParseMAC("02:00:00:00:00:0c")
	peerMAC, _ = net.ParseMAC("02:00:00:00:00:0b")
)

var fwdConfig = &config.Config{
	Groups: []config.Group{{Name: "web", Resources: []config.Resource{
		{Kind: config.KindVIP, VIP: &config.VIP{Prefix: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0"}},
		{Kind: config.KindVIP, VIP: &config.VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64"), Interface: "eth0"}},
		{Kind: config.KindBalancer, Balancer: &config.Balancer{Services: []string{"http", "dns"}}},
	}}},
	Services: []config.Service{
		{Name: "http", Listen: netip.MustParseAddrPort("0.0.0.0:80")},
		{Name: "dns", Listen: netip.MustParseAddrPort("198.18.0.100:53"), Protocol: "udp"},
	},
}

// forwardEnv builds the group's resources with the forward; timers are
// captured, not run.
func forwardEnv(f *fakeForward, alive bool, resolve func(context.Context, string, netip.Addr) (net.HardwareAddr, error),
	seen *int, timers *[]func()) []resource.Resource {
	e := &env{log: slog.New(slog.DiscardHandler), kernelNames: map[string]bool{}, forward: f,
		peerAlive: func() bool { return alive }}
	rs := e.withForward(fwdConfig, fwdConfig.Groups[0], []resource.Resource{vipStart{f, seen}})
	if hf, ok := rs[0].(*handoverForward); ok {
		hf.resolve = resolve
		hf.link = func(dev string, _ netip.Addr) (*net.Interface, error) {
			return &net.Interface{Name: dev, Index: 2, HardwareAddr: ownMAC}, nil
		}
		hf.after = func(d time.Duration, fn func()) *time.Timer {
			*timers = append(*timers, fn)
			return time.NewTimer(time.Hour)
		}
	}
	return rs
}

// A takeover from a live peer forwards the flows it did not see start to
// the MAC that answered for the VIP, before the VIP is added here, for the
// old owner's linger; IPv6 VIPs and UDP ports are not forwarded.
func TestHandoverForwardBeforeVIP(t *testing.T) {
	f := &fakeForward{}
	seen, asked := -1, 0
	var timers []func()
	rs := forwardEnv(f, true, func(_ context.Context, dev string, ip netip.Addr) (net.HardwareAddr, error) {
		asked++
		return peerMAC, nil
	}, &seen, &timers)
	g := resource.NewGroup("web", rs, resource.Timeouts{})
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if seen != 1 || asked != 1 {
		t.Fatalf("VIP added with %d forward(s) in place after %d ARP question(s), want 1 and 1", seen, asked)
	}
	want := nft.Handover{VIP: fwdVIP, Ports: []uint16{80}, Device: "eth0", LinkIndex: 2, LinkMAC: ownMAC, PeerMAC: peerMAC}
	if got := f.added[0]; got.VIP != want.VIP || !slices.Equal(got.Ports, want.Ports) || got.Device != want.Device ||
		got.LinkIndex != want.LinkIndex || got.LinkMAC.String() != want.LinkMAC.String() || got.PeerMAC.String() != want.PeerMAC.String() {
		t.Errorf("forward %+v, want %+v", got, want)
	}
	if len(timers) != 1 {
		t.Fatalf("%d removal timers, want 1", len(timers))
	}
	timers[0]() // the old owner's linger is over
	if f.count() != 0 {
		t.Error("forward left after the linger's bound")
	}
	if err := g.Stop(context.Background()); err != nil || f.count() != 0 {
		t.Errorf("Stop after the bound = %v, %d forward(s) left", err, f.count())
	}
}

// Stop removes a forward still in place.
func TestHandoverForwardStop(t *testing.T) {
	f := &fakeForward{}
	seen := 0
	var timers []func()
	rs := forwardEnv(f, true, func(context.Context, string, netip.Addr) (net.HardwareAddr, error) { return peerMAC, nil }, &seen, &timers)
	g := resource.NewGroup("web", rs, resource.Timeouts{})
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(context.Background()); err != nil || f.count() != 0 {
		t.Errorf("Stop = %v with %d forward(s) left, want none", err, f.count())
	}
}

// Without a live peer nothing is asked nor forwarded; an unanswered ARP
// question, an answer with this node's own MAC, or a failed batch leave
// the takeover going without a forward.
func TestHandoverForwardWithout(t *testing.T) {
	cases := []struct {
		name    string
		alive   bool
		resolve func(context.Context, string, netip.Addr) (net.HardwareAddr, error)
		failAdd error
	}{
		{"no live peer", false, func(context.Context, string, netip.Addr) (net.HardwareAddr, error) {
			panic("asked who holds the VIP with no live peer")
		}, nil},
		{"no answer", true, func(context.Context, string, netip.Addr) (net.HardwareAddr, error) {
			return nil, errors.New("i/o timeout")
		}, nil},
		{"own MAC", true, func(context.Context, string, netip.Addr) (net.HardwareAddr, error) { return ownMAC, nil }, nil},
		{"batch fails", true, func(context.Context, string, netip.Addr) (net.HardwareAddr, error) { return peerMAC, nil },
			errors.New("netlink: operation not permitted")},
	}
	for _, c := range cases {
		f := &fakeForward{failAdd: c.failAdd}
		seen := -1
		var timers []func()
		g := resource.NewGroup("web", forwardEnv(f, c.alive, c.resolve, &seen, &timers), resource.Timeouts{})
		if err := g.Start(context.Background()); err != nil {
			t.Errorf("%s: Start = %v, want the takeover to go on", c.name, err)
		}
		if seen != 0 || len(timers) != 0 {
			t.Errorf("%s: VIP added with %d forward(s), %d timer(s); want none", c.name, seen, len(timers))
		}
	}
}

// Only lingering groups get the forward.
func TestHandoverForwardOnlyLingering(t *testing.T) {
	f := &fakeForward{}
	e := &env{log: slog.New(slog.DiscardHandler), kernelNames: map[string]bool{}, forward: f,
		peerAlive: func() bool { return true }}
	g := config.Group{Name: "web", Resources: append(slices.Clone(fwdConfig.Groups[0].Resources),
		config.Resource{Kind: config.KindScript, Script: &config.Script{Path: "/bin/true"}})}
	if rs := e.withForward(fwdConfig, g, nil); len(rs) != 0 {
		t.Errorf("a group with a script got %d resource(s), want no forward", len(rs))
	}
	e.forward = nil
	if rs := e.withForward(fwdConfig, fwdConfig.Groups[0], nil); len(rs) != 0 {
		t.Errorf("a node without nftables got %d resource(s), want no forward", len(rs))
	}
}

// A peer that said it is leaving lingers like a live one, for lingerBound
// after it was last heard.
func TestPeerMayLinger(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name  string
		peers []ha.PeerStatus
		want  bool
	}{
		{"alive", []ha.PeerStatus{{Alive: true}}, true},
		{"leaving just now", []ha.PeerStatus{{Leaving: true, LastHeard: now.Add(-10 * time.Millisecond)}}, true},
		{"left long ago", []ha.PeerStatus{{Leaving: true, LastHeard: now.Add(-lingerBound)}}, false},
		{"dead", []ha.PeerStatus{{LastHeard: now}}, false},
		{"none", nil, false},
	}
	for _, c := range cases {
		if got := peerMayLinger(c.peers, now); got != c.want {
			t.Errorf("%s: peerMayLinger = %v, want %v", c.name, got, c.want)
		}
	}
}
