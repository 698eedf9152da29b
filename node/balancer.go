package node

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
)

// balancerResource is the `balancer` resource: the bridge from the
// ownership side (ha/resource) to the embedded balancer (proxy). It lets
// the named services take traffic on the owner. Listeners and health checks
// run on every node (warm standby), so a takeover costs only the VIP move.
type balancerResource struct {
	b        *proxy.Balancer // nil in a dry run: never started
	k        *kernelServices // nil in a dry run, or without nat/dr services
	kernel   map[string]bool // services with method nat or dr
	services []string
}

var _ resource.Resource = (*balancerResource)(nil)

func newBalancerResource(_ string, r config.Resource, e *env) (resource.Resource, error) {
	for _, s := range r.Balancer.Services {
		if !e.services[s] {
			return nil, fmt.Errorf("service %q is not configured", s)
		}
	}
	return &balancerResource{b: e.balancer, k: e.kernel, kernel: e.kernelNames, services: r.Balancer.Services}, nil
}

func (r *balancerResource) Name() string { return fmt.Sprintf("balancer %v", r.services) }

func (r *balancerResource) Start(context.Context) error {
	proxied, kernel := r.split()
	if r.b == nil && len(proxied) > 0 || r.k == nil && len(kernel) > 0 {
		return errDryRun
	}
	if len(kernel) > 0 {
		if err := r.k.setActive(kernel, true); err != nil {
			return fmt.Errorf("activating %v in the kernel: %w", kernel, err)
		}
	}
	if len(proxied) > 0 {
		return r.b.Activate(proxied...)
	}
	return nil
}

func (r *balancerResource) Stop(context.Context) error {
	proxied, kernel := r.split()
	if r.b == nil && len(proxied) > 0 || r.k == nil && len(kernel) > 0 {
		return errDryRun
	}
	var err error
	// A drained service (`hactl standby --drain`) keeps serving: the VIP,
	// stopped after it, still brings clients until it has gone, and
	// refusing them meanwhile reset every new connection for as long as
	// the VIP took to leave. The standby that ends the drain deactivates
	// it once the group is released (Node.endDrains).
	if len(proxied) > 0 {
		drained := r.b.Draining(proxied...)
		proxied = slices.DeleteFunc(proxied, func(s string) bool { return slices.Contains(drained, s) })
	}
	if len(proxied) > 0 {
		err = r.b.Deactivate(proxied...)
	}
	if len(kernel) > 0 {
		if kerr := r.k.setActive(kernel, false); kerr != nil {
			err = errors.Join(err, fmt.Errorf("deactivating %v in the kernel: %w", kernel, kerr))
		}
	}
	return err
}

// split parts the services into the balancer's and the kernel's.
func (r *balancerResource) split() (proxied, kernel []string) {
	for _, s := range r.services {
		if r.kernel[s] {
			kernel = append(kernel, s)
		} else {
			proxied = append(proxied, s)
		}
	}
	return proxied, kernel
}

func (r *balancerResource) Status(context.Context) error { return nil }

// errDryRun is what every system call of a dry-run node returns.
var errDryRun = errors.New("node: dry run: nothing on the system is touched")

// balancerConfig maps every [[service]] to the embedded balancer.
func balancerConfig(cfg *config.Config) proxy.Config {
	var pc proxy.Config
	for _, s := range cfg.Services {
		if isKernel(s) {
			continue // the kernel forwards it (kernel.go)
		}
		sc := s.Spec()
		pc.Services = append(pc.Services, sc)
	}
	return pc
}
