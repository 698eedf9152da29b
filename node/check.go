package node

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/ha/bgp"
	"github.com/hapair/hapair/ha/conntracksync"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/fwd"
	"github.com/hapair/hapair/internal/runner"
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
	Net:        hostNet,
	Program:    runner.Executable,
	Script:     resolveScript,
	Socket:     checkSocket,
	StateDir:   checkStateDir,
}

// reloadHost is what a reload asks this host about the new config, as
// node self: its interfaces and addresses, the control socket's directory
// and the programs it names, as the check does on the node. The kernel
// pieces and conntrackd and BIRD are had's start's and the reload's own
// business (kernelReload, the resource constructors).
func reloadHost(self string) config.Host {
	return config.Host{Net: host.Net, Program: host.Program, Script: host.Script, Socket: host.Socket, Node: self}
}

// resolveScript finds a script resource as the dry build and a takeover
// do: an absolute path, or a bare name in script.DefaultDirs.
func resolveScript(name string) error {
	_, err := script.Resolve(name, script.DefaultDirs)
	return err
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

// hostNet reads this host's interfaces and their addresses, with who
// added each (one rtnetlink dump, read-only, as ha/vip reads them), and
// net.ipv4.ip_nonlocal_bind.
func hostNet() (config.Net, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return config.Net{}, err
	}
	nl, err := vip.OpenNetlink("")
	if err != nil {
		return config.Net{}, err
	}
	defer nl.Close()
	addrs, err := nl.Addrs()
	if err != nil {
		return config.Net{}, err
	}
	n := config.Net{Interfaces: map[string][]netip.Prefix{}, Foreign: map[netip.Addr]string{}}
	names := map[int]string{}
	for _, ifi := range ifis {
		n.Interfaces[ifi.Name], names[ifi.Index] = nil, ifi.Name
	}
	for _, a := range addrs {
		name, ok := names[a.LinkIndex]
		if !ok {
			continue // a link that came after the list: the next check sees it
		}
		p := netip.PrefixFrom(a.Prefix.Addr().Unmap(), a.Prefix.Bits())
		n.Interfaces[name] = append(n.Interfaces[name], p)
		if a.Proto != vip.Proto {
			n.Foreign[p.Addr()] = name
		}
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind")
	n.NonlocalBind = err == nil && strings.TrimSpace(string(b)) == "1"
	return n, nil
}

// CheckOptions says what Check compares the config with.
type CheckOptions struct {
	// Node is this host's node name ("": the host name, as had finds it).
	Node string
	// NoHost leaves the host facts out, for a config meant for another
	// machine (hactl check-config --no-host): the interfaces and addresses
	// the config names, the kernel's IPVS and nftables, the programs it
	// runs (notify hooks, track and resource scripts, external checks,
	// monitors, conntrackd, BIRD), and the host names of reals, backups
	// and fallbacks, which are not looked up (standInHosts). The authkeys
	// file is still read where the config names it: it is the check's own
	// input.
	NoHost bool
}

// Validate refuses Node with NoHost: Node names the node whose host facts
// NoHost leaves out. hactl check-config and had --check both refuse the
// pair with this error, which names their flags (--node, --no-host).
func (o CheckOptions) Validate() error {
	if o.NoHost && o.Node != "" {
		return fmt.Errorf("--node %s checks this host as that node, --no-host leaves the host out: give one", o.Node)
	}
	return nil
}

// Report is what Check found in a config that had would start with.
type Report struct {
	Path    string
	Config  *config.Config
	Nodes   []string          // the nodes built dry: every node of cluster.nodes
	Host    string            // the node this host was checked as; "" with NoHost
	Keyring *authkeys.Keyring // from cluster.authkeys
	// Unresolved are the host names (of reals, backups, fallbacks) a
	// NoHost check did not look up: the target machine resolves them.
	Unresolved []string
	// Warnings are from authkeys (legacy methods, short secrets) and, per
	// nat or dr service, what its reals and the balancer must have set up
	// outside hapair (the check cannot see the reals).
	Warnings []string
}

// Check does everything had does before it touches the system, and
// nothing more: it loads the config at path; unless o.NoHost, it compares
// it, read-only, with this host as node o.Node (config.Load with
// Options.Host: the kernel pieces and programs each resource kind needs, every
// interface the config names, this node's own addresses); it loads the
// authkeys file the config names exactly as had does (authkeys.Load: a
// regular file, owned by root or the caller, mode 0600, Heartbeat's
// format), and builds the node dry (Build with DryRun) for every node of
// cluster.nodes, since the file is identical on every node. A config or
// host-fact error is a config.Errors; the first other failure is returned
// as is, naming the node it was built for.
func Check(path string, o CheckOptions) (Report, error) {
	r := Report{Path: path}
	if err := o.Validate(); err != nil {
		return r, err
	}
	var cfg *config.Config
	var err error
	var names *standInHosts
	if o.NoHost {
		names = newStandInHosts(path)
		cfg, err = config.Load(path, configOptions(names, nil))
	} else {
		h := host
		h.Node = o.Node
		cfg, err = config.Load(path, configOptions(nil, &h))
	}
	if err != nil {
		return r, err
	}
	r.Config = cfg
	if names != nil {
		r.Unresolved = names.Names()
	}
	if !o.NoHost {
		if r.Host, err = cfg.Self(o.Node); err != nil {
			return r, err
		}
	}
	r.Nodes = cfg.Cluster.Nodes
	kr, warns, err := authkeys.Load(cfg.Cluster.Authkeys)
	r.Warnings = append(cfg.Warnings(), warns...)
	if err != nil {
		return r, cfg.AuthkeysError(err)
	}
	r.Keyring = kr
	r.Warnings = append(r.Warnings, kernelNeeds(cfg)...)
	for _, name := range r.Nodes {
		n, err := Build(cfg, Options{Path: path, Node: name, Keyring: kr, DryRun: true, NoHost: o.NoHost})
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
		case fwd.NAT:
			out = append(out, fmt.Sprintf("service %q (nat): each real must route its replies through a VIP of the group (its default gateway), and the balancers need net.ipv4.ip_forward=1 and send_redirects=0", s.Name))
		case fwd.DR:
			out = append(out, fmt.Sprintf("service %q (dr): each real must serve port %d itself, hold %s on a loopback with net.ipv4.conf.all.arp_ignore=1 and arp_announce=2, and share the segment of %s with the balancers",
				s.Name, s.Listen.Port(), s.Listen.Addr(), s.Interface))
		}
	}
	return out
}

// Summary is the line a passed check prints, e.g.
//
//	config ok: nodes lb1 and lb2 in cluster "web" id 7, 1 group, 2 services; authkeys /etc/hapair/authkeys ok (2 keys, signing with 2); this host checked as lb1
//
// ending "; host facts not checked" with NoHost, naming the host names
// it did not resolve, if any.
func (r Report) Summary() string {
	c := r.Config
	who := "nodes " + strings.Join(r.Nodes, " and ")
	if len(r.Nodes) == 1 {
		who = "node " + r.Nodes[0]
	}
	hostFacts := "this host checked as " + r.Host
	if r.Host == "" {
		hostFacts = "host facts not checked"
		if len(r.Unresolved) > 0 {
			hostFacts += " (host names not resolved: " + strings.Join(r.Unresolved, ", ") + ")"
		}
	}
	// A relative authkeys is the config file's directory's; a config in
	// the working directory would make it "authkeys authkeys ok".
	keys := c.Cluster.Authkeys
	if abs, err := filepath.Abs(keys); err == nil {
		keys = abs
	}
	return fmt.Sprintf("config ok: %s in cluster %q id %d, %s, %s; authkeys %s ok (%s, signing with %d); %s",
		who, c.Cluster.Name, c.Cluster.ID, plural(len(c.Groups), "group"), plural(len(c.Services), "service"),
		keys, plural(len(r.Keyring.KeyIDs()), "key"), r.Keyring.SignKeyID(), hostFacts)
}

// ErrorLines is how hactl check-config and had print err, from Check or
// Load of the config at path, when it is the config's own errors (the
// authkeys file's among them, placed at cluster.authkeys by
// config.AuthkeysError): one FILE:LINE:COL line per error, then the
// count, "PATH: N errors". For any other error it returns nil.
func ErrorLines(path string, err error) []string {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return nil
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return append(lines, fmt.Sprintf("%s: %s", path, plural(len(errs), "error")))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
