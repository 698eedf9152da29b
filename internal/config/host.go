package config

import (
	"fmt"

	"github.com/hapair/hapair/internal/fwd"
)

// Host answers whether this host has the pieces a config relies on but
// cannot carry itself, for the config check (node.Check: `hactl
// check-config`, `had --check`). Each func must only read (a netlink
// query, a PATH lookup), return nil when the piece is there and an error
// naming it when not; a nil func is not asked. Load and Parse ask it
// through Options.Host.
type Host struct {
	IPVS       func() error // the kernel's IPVS, for ipvs-sync resources
	Conntrackd func() error // the conntrackd binary, for conntrack-sync resources
	BIRD       func() error // the BIRD 2 binary, for bgp resources
	// Kernel asks for the nftables pieces of the kernel forwarding
	// methods: a nat chain (method nat) and, when dr is set, a netdev
	// ingress chain (method dr).
	Kernel func(dr bool) error
	// Net reads this host's interfaces and addresses, which are compared
	// with the config for this host's node (probeNet); nil: not asked.
	Net func() (Net, error)
	// Program reports why an absolute program path cannot be run
	// (runner.Executable); Script why a script resource, a bare name or an
	// absolute path, cannot be found and run (script.Resolve). nil: not
	// asked.
	Program func(path string) error
	Script  func(name string) error
	// Socket reports why had could not listen on the control socket path
	// (ctl.CheckSocketPath: its directory's owner and mode; and not on a
	// pseudo file system); nil: not asked.
	Socket func(path string) error
	// StateDir reports why had could not create or lock its state
	// directory (cluster.state_dir), or why it is no place for one (a
	// pseudo file system); nil: not asked.
	StateDir func(path string) error
	// Node is this host's node name, as had --node gives it ("": the host
	// name, Config.Self's rule).
	Node string
}

// probeHost asks h for what cfg's resources need.
func (c *conv) probeHost(cfg *Config, h *Host) {
	needs := []struct {
		kind  string
		probe func() error
	}{{KindIPVSSync, h.IPVS}, {KindConntrackSync, h.Conntrackd}, {KindBGP, h.BIRD}}
	for _, n := range needs {
		if n.probe == nil {
			continue
		}
		path, ok := firstOfKind(cfg, n.kind)
		if !ok {
			continue
		}
		if err := n.probe(); err != nil {
			c.errorf(path, "%q cannot run on this host: %v", n.kind, err)
		}
	}
}

// probeKernel asks h.Kernel once for the services with method nat or dr,
// and reports a missing piece at the first such service's method key.
func (c *conv) probeKernel(cfg *Config, h *Host) {
	if h.Kernel == nil {
		return
	}
	first, dr := "", false
	for i, s := range cfg.Services {
		if !s.Method.Kernel() {
			continue
		}
		if first == "" {
			first = fmt.Sprintf("service[%d].method", i)
		}
		dr = dr || s.Method == fwd.DR
	}
	if first == "" {
		return
	}
	if err := h.Kernel(dr); err != nil {
		c.errorf(first, "kernel forwarding cannot run on this host: %v", err)
	}
}

// firstOfKind is the key path of the kind of the first resource of kind.
func firstOfKind(cfg *Config, kind string) (string, bool) {
	for path, r := range cfg.resources() {
		if r.Kind == kind {
			return path + ".kind", true
		}
	}
	return "", false
}
