package node

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy/nft"
)

// kernelSpec follows ldirectord: a failed real is removed, or set to
// weight 0 in a quiescent service; a drained real takes no new
// connections; a service without a check keeps every real up.
func TestKernelSpec(t *testing.T) {
	a, b := netip.MustParseAddrPort("198.18.0.21:80"), netip.MustParseAddrPort("198.18.0.22:80")
	svc := func(quiescent bool, check string) config.Service {
		return config.Service{Name: "web", Method: "nat", Protocol: "tcp", Listen: netip.MustParseAddrPort("198.18.0.100:80"),
			Scheduler: "wrr", Persistent: time.Minute, Quiescent: quiescent, Fallback: netip.MustParseAddrPort("198.18.0.30:80"),
			Check: config.Check{Type: check}, Reals: []config.Real{{Address: a, Weight: 2}, {Address: b, Weight: 3}}}
	}
	state := func(c config.Service, healthyA bool, drainB bool) *kernelService {
		return &kernelService{cfg: c, spec: checkSpec(c), healthy: map[netip.AddrPort]bool{a: healthyA, b: true},
			drain: map[netip.AddrPort]bool{b: drainB}}
	}
	tests := []struct {
		name string
		c    config.Service
		ks   func(config.Service) *kernelService
		want []nft.Real // Addr, Weight, Down
	}{
		{"all up", svc(false, "connect"), func(c config.Service) *kernelService { return state(c, true, false) },
			[]nft.Real{{Addr: a, Weight: 2}, {Addr: b, Weight: 3}}},
		{"failed, removed", svc(false, "connect"), func(c config.Service) *kernelService { return state(c, false, false) },
			[]nft.Real{{Addr: a, Weight: 2, Down: true}, {Addr: b, Weight: 3}}},
		{"failed, quiescent", svc(true, "connect"), func(c config.Service) *kernelService { return state(c, false, false) },
			[]nft.Real{{Addr: a, Weight: 0}, {Addr: b, Weight: 3}}},
		{"drained", svc(false, "connect"), func(c config.Service) *kernelService { return state(c, true, true) },
			[]nft.Real{{Addr: a, Weight: 2}, {Addr: b, Weight: 3, Down: true}}},
		{"no check: up", svc(false, ""), func(c config.Service) *kernelService { return state(c, false, false) },
			[]nft.Real{{Addr: a, Weight: 2}, {Addr: b, Weight: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kernelSpec(tt.c, tt.ks(tt.c))
			if len(got.Reals) != len(tt.want) {
				t.Fatalf("reals = %+v, want %+v", got.Reals, tt.want)
			}
			for i, w := range tt.want {
				g := got.Reals[i]
				if g.Addr != w.Addr || g.Weight != w.Weight || g.Down != w.Down {
					t.Errorf("real %d = %+v, want %+v", i, g, w)
				}
			}
			if got.Fallback == nil || got.Fallback.Addr.Port() != 80 || got.Persistent != time.Minute || got.Scheduler != "wrr" {
				t.Errorf("service = %+v", got)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate = %v", err)
			}
		})
	}
}

// TestKernelReloadRefusals checks the changes a reload cannot apply in
// place, with the sentence the operator reads: among them a service that
// needs the persistence sync (persistent, or dr) in a had that runs none,
// whatever its method (the sync's sockets open at start; a proxied service
// made persistent was once accepted and never synced).
func TestKernelReloadRefusals(t *testing.T) {
	proxy := config.Service{Name: "p", Method: "proxy"}
	kern := config.Service{Name: "k", Method: "nat"}
	sticky := config.Service{Name: "p", Method: "proxy", Persistent: 5 * time.Minute}
	cfg := func(s ...config.Service) *config.Config { return &config.Config{Services: s} }
	tests := []struct {
		name                 string
		a, b                 *config.Config
		haveKernel, haveSync bool
		want                 string // "" = applied live
	}{
		{"kernel services change", cfg(proxy, kern), cfg(proxy, kern, config.Service{Name: "k2", Method: "nat"}), true, false, ""},
		{"a dr service appears without the sync", cfg(proxy, kern), cfg(proxy, kern, config.Service{Name: "k2", Method: "dr"}), true, false,
			"service k2 appears with method dr, whose flows the persistence sync carries to the peer, and that sync opens its sockets only at start"},
		{"a persistent nat service appears without the sync", cfg(proxy, kern), cfg(proxy, config.Service{Name: "k", Method: "nat", Persistent: time.Minute}), true, false,
			"service k becomes persistent (1m0s), whose entries the persistence sync carries to the peer, and that sync opens its sockets only at start"},
		{"a second dr service, the sync open", cfg(proxy, config.Service{Name: "d", Method: "dr"}),
			cfg(proxy, config.Service{Name: "d", Method: "dr"}, config.Service{Name: "k2", Method: "dr"}), true, true, ""},
		{"kernel services appear in a had without them", cfg(proxy), cfg(proxy, kern), false, false, "nat or dr services appear"},
		{"last proxy service goes", cfg(proxy, kern), cfg(kern), true, false, "the balancer gains or loses all its proxy services"},
		{"a proxied service becomes persistent without the sync", cfg(proxy), cfg(sticky), false, false,
			"service p becomes persistent (5m0s), whose entries the persistence sync carries to the peer, and that sync opens its sockets only at start"},
		{"a persistent proxied service appears without the sync", cfg(proxy), cfg(proxy, config.Service{Name: "q", Method: "proxy", Persistent: time.Minute}), false, false,
			"service q appears with persistent = 1m0s, whose entries the persistence sync carries to the peer, and that sync opens its sockets only at start"},
		{"a proxied service becomes persistent, the sync open", cfg(proxy, config.Service{Name: "q", Method: "proxy", Persistent: time.Minute}),
			cfg(sticky, config.Service{Name: "q", Method: "proxy", Persistent: time.Minute}), false, true, ""},
		// Started persistent, then reloaded without persistence: the sync
		// stays open, so persistence may come back by reload.
		{"persistence back, the sync still open", cfg(proxy), cfg(sticky), false, true, ""},
		{"persistence goes", cfg(sticky), cfg(proxy), false, true, ""},
	}
	for _, tt := range tests {
		if got := kernelReload(tt.a, tt.b, tt.haveKernel, tt.haveSync); got != tt.want {
			t.Errorf("%s: kernelReload = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestKernelNeeds(t *testing.T) {
	cfg := &config.Config{Services: []config.Service{
		{Name: "p", Method: "proxy"},
		{Name: "gate", Method: "dr", Interface: "eth0", Listen: netip.MustParseAddrPort("198.18.0.100:80")},
		{Name: "masq", Method: "nat"},
	}}
	got := kernelNeeds(cfg)
	if len(got) != 2 {
		t.Fatalf("kernelNeeds = %q, want one line per kernel service", got)
	}
	for _, want := range []string{"serve port 80 itself", "hold 198.18.0.100 on a loopback", "arp_ignore=1", "arp_announce=2", "segment of eth0"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("dr line %q lacks %q", got[0], want)
		}
	}
	if !strings.Contains(got[1], "default gateway") || !strings.Contains(got[1], "ip_forward=1") {
		t.Errorf("nat line %q", got[1])
	}
}
