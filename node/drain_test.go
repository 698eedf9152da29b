package node

import (
	"context"
	"testing"

	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/proxytest"
)

// Stopping the balancer resource of a drained group leaves its drained
// service serving (the VIP, stopped after it, still brings clients) and
// deactivates the others, as before.
func TestBalancerStopLeavesDrainedServing(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	svc := func(name string) proxy.ServiceConfig {
		return proxy.ServiceConfig{Name: name, Listen: proxytest.ClosedPort(t), Mode: "http",
			Reals: []proxy.RealConfig{{Address: a.Addr, Weight: 1}}}
	}
	b, err := proxy.New(proxy.Config{Services: []proxy.ServiceConfig{svc("web"), svc("api")}}, proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r := &balancerResource{b: b, services: []string{"web", "api"}}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Quiesce(true, "web"); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	active := map[string]bool{}
	for _, s := range b.Snapshot().Services {
		active[s.Name] = s.Active
	}
	if !active["web"] || active["api"] {
		t.Errorf("after Stop: active %v, want the drained web still active and api not", active)
	}
}
