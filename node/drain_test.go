package node

import (
	"context"
	"testing"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/proxytest"
)

// seesActive is a stand-in for a group's VIP: it records whether the
// proxied service was active when it started and when it stopped.
type seesActive struct {
	b               *proxy.Balancer
	atStart, atStop bool
}

func (r *seesActive) active() bool {
	for _, s := range r.b.Snapshot().Services {
		if s.Name == "web" {
			return s.Active
		}
	}
	return false
}

func (r *seesActive) Name() string                 { return "vip" }
func (r *seesActive) Start(context.Context) error  { r.atStart = r.active(); return nil }
func (r *seesActive) Stop(context.Context) error   { r.atStop = r.active(); return nil }
func (r *seesActive) Status(context.Context) error { return nil }

// A group's proxied services are active before its VIP is added and until
// after it has gone (proxiedActivation), whatever the order of the
// resources in the config: a client the VIP brings is never reset by an
// inactive service.
func TestProxiedServicesAroundTheVIP(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	b, err := proxy.New(proxy.Config{Services: []proxy.ServiceConfig{{Name: "web", Listen: proxytest.ClosedPort(t), Mode: "http",
		Reals: []proxy.RealConfig{{Address: a.Addr, Weight: 1}}}}}, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	vip := &seesActive{b: b}
	rs := aroundGroup([]resource.Resource{vip, &balancerResource{b: b, services: []string{"web"}}}, b)
	if got := rs[0].Name(); got != "proxied services [web]" {
		t.Fatalf("first resource %q, want the proxied services", got)
	}
	g := resource.NewGroup("web", rs, resource.Timeouts{})
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !vip.atStart || !vip.atStop {
		t.Errorf("service active when the VIP started %v, when it stopped %v; want both", vip.atStart, vip.atStop)
	}
	if vip.active() {
		t.Error("service still active after the group stopped")
	}
}
