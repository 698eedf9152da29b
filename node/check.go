package node

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/ha/bgp"
	"github.com/hapair/hapair/ha/conntracksync"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy/nft"
)

// host is what Check asks this host, reading only: whether the kernel
// has IPVS (ipvssync.Present reads procfs and the modules lists, where
// resolving the IPVS generic netlink family, as had does at start, may
// load ip_vs), and whether conntrackd and BIRD are in PATH (as
// conntracksync.New and bgp.NewSpeaker look at start). Tests replace it.
// For nat and dr services it runs nft.Check, had's own start probe: each
// probe is one nftables batch that adds a table with the chain and deletes
// it again, which the kernel validates and commits atomically, so nothing
// is ever visible or left behind (the kernel offers no read-only way to ask
// whether a chain type exists: this kernel may have no modules at all).
var host = config.Host{
	IPVS:       ipvssync.Present,
	Conntrackd: func() error { return conntracksync.Check("") },
	BIRD:       func() error { return bgp.Check("") },
	Kernel:     kernelPresent,
}

// kernelPresent is nft.Check over a fresh netlink connection. Without
// CAP_NET_ADMIN the kernel answers EPERM to any nftables change, which says
// nothing about what it supports: the check then cannot ask, and had asks
// again at start, where it runs as root.
func kernelPresent(dr bool) error {
	conn, err := nft.OpenNetlink()
	if err == nil {
		err = nft.Check(conn, dr)
	}
	if errors.Is(err, os.ErrPermission) {
		return nil
	}
	return err
}

// Report is what Check found in a config that had would start with.
type Report struct {
	Path    string
	Config  *config.Config
	Nodes   []string          // the nodes built dry
	Keyring *authkeys.Keyring // from cluster.authkeys
	// Warnings are from authkeys (legacy methods, short secrets) and, per
	// nat or dr service, what its reals and the balancer must have set up
	// outside hapair (the check cannot see the reals).
	Warnings []string
}

// Check does everything had does before it touches the system, and
// nothing more: it loads the config at path and asks this host, read-only,
// for what its resources need (config.LoadOnHost with host), loads the
// authkeys file it names exactly as had does (authkeys.Load: a regular
// file, owned by root or the caller, mode 0600, Heartbeat's format), and
// builds the node dry (Build with DryRun) for each of nodes, or for every
// node of cluster.nodes when nodes is empty. `had --check` passes its own
// name, `hactl check-config` none, since the file is identical on every
// node. A config error is a config.Errors; the first other failure is
// returned as is, naming the node it was built for.
func Check(path string, nodes ...string) (Report, error) {
	r := Report{Path: path}
	cfg, err := config.LoadOnHost(path, host)
	if err != nil {
		return r, err
	}
	r.Config = cfg
	if len(nodes) == 0 {
		nodes = cfg.Cluster.Nodes
	}
	for _, name := range nodes {
		self, err := cfg.Self(name) // "" is the host name
		if err != nil {
			return r, err
		}
		r.Nodes = append(r.Nodes, self)
	}
	kr, warns, err := authkeys.Load(cfg.Cluster.Authkeys)
	r.Warnings = warns
	if err != nil {
		return r, fmt.Errorf("%w (cluster.authkeys in %s)", err, path)
	}
	r.Keyring = kr
	r.Warnings = append(r.Warnings, kernelNeeds(cfg)...)
	for _, name := range r.Nodes {
		n, err := Build(cfg, Options{Path: path, Node: name, Keyring: kr, DryRun: true})
		if err != nil {
			return r, fmt.Errorf("building node %s: %w", name, err)
		}
		n.Close()
	}
	return r, nil
}

// kernelNeeds says, per nat or dr service, what hapair relies on but
// cannot set or see: the reals' routing and ARP settings (LVS-HOWTO's
// requirements for LVS-NAT and LVS-DR) and the balancer's forwarding.
func kernelNeeds(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Services {
		switch s.Method {
		case "nat":
			out = append(out, fmt.Sprintf("service %q (nat): each real must route its replies through a VIP of the group (its default gateway), and the balancers need net.ipv4.ip_forward=1 and send_redirects=0", s.Name))
		case "dr":
			out = append(out, fmt.Sprintf("service %q (dr): each real must serve port %d itself, hold %s on a loopback with net.ipv4.conf.all.arp_ignore=1 and arp_announce=2, and share the segment of %s with the balancers",
				s.Name, s.Listen.Port(), s.Listen.Addr(), s.Interface))
		}
	}
	return out
}

// Summary is the line a passed check prints, e.g.
//
//	config ok: node lb1 in cluster "web" id 7, 1 group, 2 services; authkeys /etc/hapair/authkeys ok (2 keys, signing with 2)
func (r Report) Summary() string {
	c := r.Config
	who := "nodes " + strings.Join(r.Nodes, " and ")
	if len(r.Nodes) == 1 {
		who = "node " + r.Nodes[0]
	}
	return fmt.Sprintf("config ok: %s in cluster %q id %d, %s, %s; authkeys %s ok (%s, signing with %d)",
		who, c.Cluster.Name, c.Cluster.ID, plural(len(c.Groups), "group"), plural(len(c.Services), "service"),
		c.Cluster.Authkeys, plural(len(r.Keyring.KeyIDs()), "key"), r.Keyring.SignKeyID())
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
