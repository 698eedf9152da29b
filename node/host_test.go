package node

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/ha/bgp"
	"github.com/hapair/hapair/ha/conntracksync"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node/nodetest"
)

// hostConfig is a pair whose group has an ipvs-sync resource, a
// conntrack-sync resource and a bgp resource (lines 16, 17 and 18 once
// writeHostConfig adds the authkeys line).
// pairHead is the [cluster] table of both test configs.
const pairHead = `[cluster]
name = "web"
id = 7
nodes = ["lb1", "lb2"]
`

const hostConfig = pairHead + `
[[link]]
kind = "mcast"
interface = "eth0"
group = "239.255.0.94"

[[group]]
name = "web"
preferred = "lb1"
resources = [
  { kind = "ipvs-sync", role = "master", interface = "eth0" },
  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.12"] },
  { kind = "bgp", addresses = ["198.18.2.100"] },
]

[bgp]
asn = 64512
nodes = { lb1 = "198.18.1.11/24", lb2 = "198.18.1.12/24" }
neighbors = [ { address = "198.18.1.1", asn = 64513 } ]
`

// writeHostConfig writes hostConfig with an authkeys file, as is: not
// through nodetest.Sandbox, which leaves ipvs-sync out where IPVS is
// missing.
func writeHostConfig(t *testing.T) string { return writeConfig(t, hostConfig) }

// writeConfig writes text with an authkeys line after cluster.nodes and
// the authkeys file it names.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	keys := filepath.Join(dir, "authkeys")
	if err := os.WriteFile(keys, []byte(nodetest.Authkeys), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "had.toml")
	text = strings.Replace(text, "nodes = [\"lb1\", \"lb2\"]\n", "nodes = [\"lb1\", \"lb2\"]\nauthkeys = \""+keys+"\"\n", 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func useHost(t *testing.T, h config.Host) {
	t.Helper()
	old := host
	host = h
	t.Cleanup(func() { host = old })
}

// TestCheckHost: the check asks the host (read-only) for what each
// resource kind needs, and a missing piece fails it at the resource's
// kind with the probe's reason; a probe runs once per kind.
func TestCheckHost(t *testing.T) {
	path := writeHostConfig(t)
	ok := func() error { return nil }
	missing := func(what string) func() error { return func() error { return errors.New(what + " missing") } }
	tests := []struct {
		name string
		h    config.Host
		want string // "" = ok; "L:C: path: msg" after the file name
	}{
		{"everything there", config.Host{IPVS: ok, Conntrackd: ok, BIRD: ok}, ""},
		{"no IPVS", config.Host{IPVS: missing("IPVS"), Conntrackd: ok, BIRD: ok},
			`:16:12: group[0].resources[0].kind: "ipvs-sync" cannot run on this host: IPVS missing`},
		{"no conntrackd", config.Host{IPVS: ok, Conntrackd: missing("conntrackd"), BIRD: ok},
			`:17:12: group[0].resources[1].kind: "conntrack-sync" cannot run on this host: conntrackd missing`},
		{"no BIRD", config.Host{IPVS: ok, Conntrackd: ok, BIRD: missing("bird")},
			`:18:12: group[0].resources[2].kind: "bgp" cannot run on this host: bird missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useHost(t, tt.h)
			_, err := Check(path, CheckOptions{Node: "lb1"})
			if tt.want == "" {
				// The dry build still looks for conntrackd and BIRD itself.
				if e := errors.Join(conntracksync.Check(""), bgp.Check("")); e != nil {
					t.Skipf("the dry build needs conntrackd and BIRD on this host: %v", e)
				}
				if err != nil {
					t.Errorf("Check = %v, want ok", err)
				}
				return
			}
			if err == nil || err.Error() != path+tt.want {
				t.Errorf("Check = %v,\nwant %s%s", err, path, tt.want)
			}
		})
	}
}

// TestCheckRealIPVS runs the check with this host's own probes: on a
// kernel without IPVS (this CI's) the ipvs-sync resource is refused with
// what was looked at; on one with IPVS there is nothing to refuse.
func TestCheckRealIPVS(t *testing.T) {
	if err := ipvssync.Present(); err == nil {
		t.Skip("this kernel has IPVS: nothing to refuse (TestCheckHost covers the refusal with the probe injected)")
	}
	useHost(t, config.Host{IPVS: host.IPVS})
	path := writeHostConfig(t)
	_, err := Check(path, CheckOptions{Node: "lb1"})
	want := path + `:16:12: group[0].resources[0].kind: "ipvs-sync" cannot run on this host: ipvs-sync: the kernel has no IPVS: no /proc/net/ip_vs, and no ip_vs module in /lib/modules/`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Check = %v,\nwant it to start %s", err, want)
	}
}

// netConfig names an interface for each kind that takes one and this
// node's own addresses; line numbers are those after writeNetConfig adds
// the authkeys line.
const netConfig = pairHead + `
[[link]]
kind = "ucast"
interface = "eth1"
peers = { lb1 = "198.18.1.11", lb2 = "198.18.1.12" }

[[group]]
name = "web"
preferred = "lb1"
resources = [
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
  { kind = "vip", address = "198.18.2.100/24" },
  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.12"] },
  { kind = "balancer", services = ["http"] },
  { kind = "bgp", addresses = ["198.18.3.100"] },
]

[[service]]
name = "http"
method = "dr"
interface = "eth0"
listen = "198.18.0.100:80"
reals = [ { address = "198.18.1.21:80" } ]

[[ping]]
address = "198.18.0.1"

[admin]
listen = "198.18.0.11:9694"
allow_remote = true

[bgp]
asn = 64512
nodes = { lb1 = "198.18.1.11/24", lb2 = "198.18.1.12/24" }
neighbors = [ { address = "198.18.1.1", asn = 64513 } ]
`

// TestCheckHostNet: on the node itself the check compares the config with
// the host's interfaces and addresses (what had binds at start and takes
// at a takeover), each at its key; NoHost leaves them out.
func TestCheckHostNet(t *testing.T) {
	path := writeConfig(t, netConfig)
	ok := func() error { return nil }
	have := func(n config.Net) func() (config.Net, error) {
		return func() (config.Net, error) { return n, nil }
	}
	full := config.Net{Interfaces: map[string][]netip.Prefix{
		"lo":   {netip.MustParsePrefix("127.0.0.1/8")},
		"eth0": {netip.MustParsePrefix("198.18.0.11/24"), netip.MustParsePrefix("198.18.2.11/24")},
		"eth1": {netip.MustParsePrefix("198.18.1.11/24")},
	}}
	bare := config.Net{Interfaces: map[string][]netip.Prefix{"lo": {netip.MustParsePrefix("127.0.0.1/8")}, "eth0": nil}}
	tests := []struct {
		name string
		n    config.Net
		node string
		want []string // "" = ok; "L:C: path: msg" after the file name
	}{
		{"everything here", full, "lb1", nil},
		{"nothing here", bare, "lb1", []string{
			`:9:13: link[0].interface: interface "eth1" is not on this host (it has eth0, lo): had fails to open link ucast0 at start`,
			`:10:17: link[0].peers.lb1: 198.18.1.11 is this node's (lb1) address on link ucast0, and no interface of this host holds it: had binds it at start and would fail`,
			`:17:29: group[0].resources[1].address: no interface of this host has a subnet containing 198.18.2.100: taking group "web" over would fail; set interface`,
			`:18:42: group[0].resources[2].interface: interface "eth1" is not on this host (it has eth0, lo): taking group "web" over would fail`,
			`:18:63: group[0].resources[2].addresses[0]: 198.18.1.11 is this node's (lb1) address for conntrackd, and no interface of this host holds it: conntrackd binds it, so taking group "web" over would fail`,
			`:34:10: admin.listen: no interface of this host holds 198.18.0.11: had binds the admin listener at start and would fail`,
			`:39:17: bgp.nodes.lb1: 198.18.1.11 is this node's (lb1) address on the neighbours' network, and no interface of this host holds it: its BGP sessions and BFD would never come up`,
		}},
		{"nonlocal bind", config.Net{Interfaces: full.Interfaces, NonlocalBind: true}, "lb1", nil},
		{"ping node on this host", config.Net{Interfaces: map[string][]netip.Prefix{
			"lo":   full.Interfaces["lo"],
			"eth0": append([]netip.Prefix{netip.MustParsePrefix("198.18.0.1/24")}, full.Interfaces["eth0"]...),
			"eth1": full.Interfaces["eth1"],
		}}, "lb1", []string{
			`:31:11: ping[0].address: 198.18.0.1 is an address of this host: it always answers, so it breaks no tie; want an address beyond this host (e.g. the gateway)`,
		}},
		{"another node's addresses", full, "lb2", []string{
			`:10:38: link[0].peers.lb2: 198.18.1.12 is this node's (lb2) address on link ucast0, and no interface of this host holds it: had binds it at start and would fail`,
			`:18:78: group[0].resources[2].addresses[1]: 198.18.1.12 is this node's (lb2) address for conntrackd, and no interface of this host holds it: conntrackd binds it, so taking group "web" over would fail`,
			`:39:41: bgp.nodes.lb2: 198.18.1.12 is this node's (lb2) address on the neighbours' network, and no interface of this host holds it: its BGP sessions and BFD would never come up`,
		}},
		// BIRD's sessions are single hop: the network the host really has
		// must hold the neighbour, whatever bgp.nodes says.
		{"BGP address on a narrower network than written", config.Net{Interfaces: map[string][]netip.Prefix{
			"lo":   full.Interfaces["lo"],
			"eth0": full.Interfaces["eth0"],
			"eth1": {netip.MustParsePrefix("198.18.1.11/30")},
		}}, "lb1", []string{
			`:39:17: bgp.nodes.lb1: 198.18.1.11 is held here as 198.18.1.11/30 on eth1, whose network 198.18.1.8/30 does not hold neighbour 198.18.1.1 (bgp.neighbors[0]): BIRD's single-hop session to it would never come up`,
		}},
		{"not a node", full, "lb3", []string{
			`:4:1: cluster.nodes: --node "lb3" is not one of them: host facts are checked for this host's node; name it with --node NAME, or leave them out for a config meant for another machine (hactl check-config --no-host)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useHost(t, config.Host{Conntrackd: ok, BIRD: ok, Kernel: func(bool) error { return nil }, Net: have(tt.n)})
			_, err := Check(path, CheckOptions{Node: tt.node})
			var got []string
			var errs config.Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					got = append(got, strings.TrimPrefix(e.Error(), path))
				}
			} else if err != nil {
				// The dry build still looks for conntrackd and BIRD itself.
				if e := errors.Join(conntracksync.Check(""), bgp.Check("")); e != nil {
					t.Skipf("the dry build needs conntrackd and BIRD on this host: %v", e)
				}
				t.Fatalf("Check = %v, want config errors or ok", err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Check errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	// An IPv6 address rides the IPv4 sessions with the interface's
	// global IPv6 address as its next hop (ha/bgp's hasIPv6).
	v6 := writeConfig(t, strings.Replace(netConfig, `addresses = ["198.18.3.100"]`, `addresses = ["198.18.3.100", "2001:db8::100"]`, 1))
	for _, tc := range []struct {
		eth1 []netip.Prefix
		want string
	}{
		{[]netip.Prefix{netip.MustParsePrefix("198.18.1.11/24"), netip.MustParsePrefix("fe80::11/64")},
			`:20:48: group[0].resources[4].addresses[1]: 2001:db8::100 rides the IPv4 BGP sessions, and eth1 (where this node's 198.18.1.11 is) has no global IPv6 address for BIRD to give as its next hop (RFC 2545 section 3): the route would never be announced; add one`},
		{[]netip.Prefix{netip.MustParsePrefix("198.18.1.11/24"), netip.MustParsePrefix("2001:db8:1::11/64")}, ""},
	} {
		useHost(t, config.Host{Conntrackd: ok, BIRD: ok, Kernel: func(bool) error { return nil }, Net: have(config.Net{Interfaces: map[string][]netip.Prefix{
			"lo": full.Interfaces["lo"], "eth0": full.Interfaces["eth0"], "eth1": tc.eth1,
		}})})
		_, err := Check(v6, CheckOptions{Node: "lb1"})
		got := ""
		if err != nil {
			got = strings.TrimPrefix(err.Error(), v6)
		}
		if got != tc.want {
			t.Errorf("Check (eth1 %v) = %q, want %q", tc.eth1, got, tc.want)
		}
	}
	useHost(t, config.Host{Net: have(bare)})
	if _, err := Check(path, CheckOptions{NoHost: true}); err != nil {
		t.Errorf("Check(NoHost) = %v, want no host fact asked", err)
	}
}
