package node

import (
	"fmt"
	"github.com/hapair/hapair/ha/bgp"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hapair/hapair/ha/conntracksync"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
)

// kinds is the table of resource kinds, one row each: the name a config
// gives in `kind = "..."` and the constructor. Adding a kind is one row
// (and its config section in internal/config).
var kinds = map[string]func(group string, r config.Resource, e *env) (resource.Resource, error){
	config.KindVIP:           newVIP,
	config.KindBalancer:      newBalancerResource,
	config.KindScript:        newScript,
	config.KindIPVSSync:      newIPVSSync,
	config.KindConntrackSync: newConntrackSync,
	config.KindBGP:           newBGP,
}

// env holds the shared handles resources are built with. In a dry run the
// kernels are inert (every call fails with errDryRun) and balancer is nil.
type env struct {
	vipKernel   vip.Kernel
	ipvsKernel  ipvssync.Kernel // nil unless a group has an ipvs-sync resource
	balancer    *proxy.Balancer // nil when no proxy service is configured, or dry
	kernel      *kernelServices // nil when no nat or dr service is configured, or dry
	services    map[string]bool // names of the configured services
	kernelNames map[string]bool // those with method nat or dr
	log         *slog.Logger
	self        string
	stateDir    string
	dry         bool
	noHost      bool           // dry, for another machine: look nothing up on this host (Options.NoHost)
	closers     []func() error // run by Node.Close (child processes resources own)
	speaker     *bgp.Speaker   // nil unless a group has a bgp resource, or dry
	// groupServices names the services each group's balancer activates
	// (the bgp health gate); snapshot reads their state.
	groupServices  map[string][]string
	checkIntervals map[string]time.Duration // by service name
	snapshot       func() *proxy.Snapshot
	// successor and inFlight are what a group's releaseLinger waits on
	// (Node.successor, Node.inFlight); nil in a dry run.
	successor func(group string) (holder string, coming bool)
	inFlight  func(group string, services []string) (int64, error)
	// forward and peerAlive are what a group's handoverForward uses
	// (Node.forward, Node.peerAlive); forward is nil in a dry run and
	// without nftables.
	forward   forwarder
	peerAlive func() bool
	// holds is the SYN hold shared by drained moves and group starts
	// (withStartHold); nil as forward is.
	holds *holdSet
}

// buildGroup makes the resource group of g, one of cfg's groups (at a
// reload, of the config not yet in place), in start order, and returns
// its VIPs too (their first gratuitous ARP goes into the takeover timeline).
func buildGroup(cfg *config.Config, g config.Group, e *env) (*resource.Group, []*vip.VIP, error) {
	var rs []resource.Resource
	var vips []*vip.VIP
	for i, r := range g.Resources {
		newKind, ok := kinds[r.Kind]
		if !ok {
			return nil, nil, fmt.Errorf("group %q resource %d: unknown resource kind %q", g.Name, i, r.Kind)
		}
		res, err := newKind(g.Name, r, e)
		if err != nil {
			return nil, nil, fmt.Errorf("group %q resource %d (%s): %w", g.Name, i, r.Kind, err)
		}
		rs = append(rs, res)
		if v, ok := res.(*vip.VIP); ok {
			vips = append(vips, v)
		}
	}
	return resource.NewGroup(g.Name, e.withForward(cfg, g, e.withLinger(g, e.withStartHold(cfg, g, aroundGroup(rs, e.balancer)))), resource.Timeouts{}), vips, nil
}

// usesKind reports whether any group of cfg has a resource of kind.
func usesKind(cfg *config.Config, kind string) bool {
	for _, g := range cfg.Groups {
		for _, r := range g.Resources {
			if r.Kind == kind {
				return true
			}
		}
	}
	return false
}

func newVIP(group string, r config.Resource, e *env) (resource.Resource, error) {
	vc := r.VIP.Spec()
	vc.Kernel = e.vipKernel
	vc.Logger = e.log.With("group", group)
	if !e.dry {
		vc.Confirm = vip.ListenTraffic // DESIGN: after a takeover, re-announce until traffic arrives
	}
	return vip.New(vc)
}

func newScript(_ string, r config.Resource, e *env) (resource.Resource, error) {
	c := r.Script
	if e.noHost {
		return dryResource{"script " + c.Path}, nil // config checked the name; the file is on the other machine
	}
	return script.New(script.Spec{
		Resource:      c.Path,
		Args:          c.Args,
		StartTimeout:  c.Timeout,
		StopTimeout:   c.Timeout,
		StatusTimeout: c.Timeout,
	})
}

func newConntrackSync(group string, r config.Resource, e *env) (resource.Resource, error) {
	c := r.ConntrackSync
	if e.noHost {
		return dryResource{"conntrack-sync " + c.Interface}, nil // conntracksync.New looks for conntrackd here
	}
	local := c.Addresses[e.self]
	var peer netip.Addr
	for n, a := range c.Addresses {
		if n != e.self {
			peer = a
		}
	}
	res, err := conntracksync.New(conntracksync.Config{
		Interface: c.Interface, Local: local, Peer: peer, Port: c.Port,
		Dir:    conntracksync.DirIn(e.stateDir, group),
		Logger: e.log.With("group", group),
	})
	if err != nil {
		return nil, err
	}
	if e.dry {
		return dryResource{res.Name()}, nil
	}
	e.closers = append(e.closers, res.Close)
	return res, nil
}

func newIPVSSync(_ string, r config.Resource, e *env) (resource.Resource, error) {
	c := r.IPVSSync
	return ipvssync.New(ipvssync.Config{
		Role: c.Role, Interface: c.Interface, SyncID: c.SyncID,
		Kernel: e.ipvsKernel, Logger: e.log,
	})
}
