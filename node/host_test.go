package node

import (
	"errors"
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
const hostConfig = `[cluster]
name = "web"
id = 7
nodes = ["lb1", "lb2"]

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
func writeHostConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	keys := filepath.Join(dir, "authkeys")
	if err := os.WriteFile(keys, []byte(nodetest.Authkeys), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "had.toml")
	text := strings.Replace(hostConfig, "nodes = [\"lb1\", \"lb2\"]\n", "nodes = [\"lb1\", \"lb2\"]\nauthkeys = \""+keys+"\"\n", 1)
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
			_, err := Check(path)
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
	_, err := Check(path)
	want := path + `:16:12: group[0].resources[0].kind: "ipvs-sync" cannot run on this host: ipvs-sync: the kernel has no IPVS: no /proc/net/ip_vs, and no ip_vs module in /lib/modules/`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Check = %v,\nwant it to start %s", err, want)
	}
}
