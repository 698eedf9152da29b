package node

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node/serviceconf"
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
	// around: the group's proxiedActivation (de)activates the proxied
	// services; this resource handles only the kernel's.
	around bool
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

// split parts the services into the balancer's and the kernel's; proxied
// is empty when proxiedActivation handles them.
func (r *balancerResource) split() (proxied, kernel []string) {
	for _, s := range r.services {
		switch {
		case r.kernel[s]:
			kernel = append(kernel, s)
		case !r.around:
			proxied = append(proxied, s)
		}
	}
	return proxied, kernel
}

// proxiedActivation is the first resource of a group whose balancer has
// proxied (userspace) services: it activates them before the group's VIPs
// are added and, stopped last, deactivates them after the VIPs have gone.
// They are bound and checked on every node (warm standby) and a node
// without the VIP gets no traffic for them, so this costs nothing, while
// activating them after the VIP reset the clients its gratuitous ARP
// brought first, and deactivating them before the VIP left reset the
// clients who arrived meanwhile: both failed requests in a planned move
// (`hactl standby --drain` under load).
type proxiedActivation struct {
	b        *proxy.Balancer // nil in a dry run
	services []string
}

var _ resource.Resource = (*proxiedActivation)(nil)

// aroundGroup puts the proxied services of rs's balancer resources into a
// proxiedActivation at the front of the group, if there are any.
func aroundGroup(rs []resource.Resource, b *proxy.Balancer) []resource.Resource {
	pa := &proxiedActivation{b: b}
	for _, r := range rs {
		br, ok := r.(*balancerResource)
		if !ok {
			continue
		}
		proxied, _ := br.split()
		for _, s := range proxied {
			if !slices.Contains(pa.services, s) {
				pa.services = append(pa.services, s)
			}
		}
		br.around = true
	}
	rs = withHandover(rs)
	if len(pa.services) == 0 {
		return rs
	}
	return append([]resource.Resource{pa}, rs...)
}

// natHandover is the last resource of a group whose balancer has kernel
// services: stopped first, before the group's VIPs leave, it marks the
// nat services' connections liberal (kernelServices.markLiberal). The
// peer may start the group while this node is still releasing it, and
// its gratuitous ARP moves the clients and the reals apart: a real's
// reply that still reaches this node must find an entry that takes it.
// The balancer resource marks them again once their rules are gone, for
// the connections opened meanwhile; a standby marks them first of all,
// before it is advertised (Node.beforeRelease).
type natHandover struct {
	k        *kernelServices
	services []string
}

var _ resource.Resource = (*natHandover)(nil)

// withHandover appends a natHandover for the kernel services of rs's
// balancer resources, if there are any and a kernel to mark.
func withHandover(rs []resource.Resource) []resource.Resource {
	h := &natHandover{}
	for _, r := range rs {
		if br, ok := r.(*balancerResource); ok && br.k != nil {
			_, kernel := br.split()
			h.k, h.services = br.k, append(h.services, kernel...)
		}
	}
	if len(h.services) == 0 {
		return rs
	}
	return append(rs, h)
}

func (h *natHandover) Name() string                 { return fmt.Sprintf("nat handover %v", h.services) }
func (h *natHandover) Start(context.Context) error  { return nil }
func (h *natHandover) Stop(context.Context) error   { h.k.markLiberal(h.services); return nil }
func (h *natHandover) Status(context.Context) error { return nil }

func (r *proxiedActivation) Name() string { return fmt.Sprintf("proxied services %v", r.services) }

func (r *proxiedActivation) Start(context.Context) error {
	if r.b == nil {
		return errDryRun
	}
	return r.b.Activate(r.services...)
}

func (r *proxiedActivation) Stop(context.Context) error {
	if r.b == nil {
		return errDryRun
	}
	return r.b.Deactivate(r.services...)
}

func (r *proxiedActivation) Status(context.Context) error { return nil }

func (r *balancerResource) Status(context.Context) error { return nil }

// errDryRun is what every system call of a dry-run node returns.
var errDryRun = errors.New("node: dry run: nothing on the system is touched")

// balancerConfig maps every [[service]] to the embedded balancer.
func balancerConfig(cfg *config.Config) proxy.Config {
	var pc proxy.Config
	for _, s := range cfg.Services {
		if s.Method.Kernel() {
			continue // the kernel forwards it (kernel.go)
		}
		sc := serviceconf.Spec(s)
		pc.Services = append(pc.Services, sc)
	}
	return pc
}
