package config

import (
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
)

// bgpBase is minimal+svc with a [bgp] table and a second group announcing
// 198.18.2.100 by BGP.
const bgpBase = minimal + svc + configtest.BGP

func TestBGP(t *testing.T) {
	cfg, err := parse([]byte(bgpBase), "t.toml")
	if err != nil {
		t.Fatalf("Parse(bgpBase) error = %v", err)
	}
	g := cfg.Groups[1]
	if !g.ActiveActive || g.Resources[0].BGP == nil || g.Resources[0].BGP.Addresses[0].String() != "198.18.2.100" {
		t.Errorf("group edge = %+v", g)
	}
	if b := cfg.BGP; b == nil || b.ASN != 65001 || !b.BFD || b.HoldTime.String() != "3s" || b.Nodes["lb2"].String() != "198.18.0.12/24" {
		t.Errorf("BGP = %+v", cfg.BGP)
	}
}

// TestBGPErrors: what cannot work is refused with file:line.
func TestBGPErrors(t *testing.T) {
	tests := []struct{ desc, from, to, want string }{
		{"AS out of range", "asn = 65001", "asn = 4294967296",
			"t.toml:25:7: bgp.asn: 4294967296 is out of range 1..4294967295 (RFC 6793)"},
		{"AS zero", "asn = 65001", "asn = 0", "t.toml:25:7: bgp.asn: 0 is out of range"},
		{"AS_TRANS", "asn = 65001", "asn = 23456", "t.toml:25:7: bgp.asn: 23456 is AS_TRANS (RFC 6793), not an AS"},
		{"neighbour AS", `asn = 65000 }`, `asn = -1 }`, "t.toml:27:47: bgp.neighbors[0].asn: -1 is out of range"},
		{"neighbour outside the nodes' network", `address = "198.18.0.1"`, `address = "198.18.5.1"`,
			"t.toml:27:27: bgp.neighbors[0].address: 198.18.5.1 is outside node lb1's network 198.18.0.0/24 (bgp.nodes.lb1): BGP and BFD here are single hop"},
		{"node without address", `, lb2 = "198.18.0.12/24"`, "", `bgp.nodes: node "lb2" has no address`},
		{"BGP and ARP on one address", `addresses = ["198.18.2.100"]`, `addresses = ["198.18.0.100"]`,
			"t.toml:32:44: group[1].resources[0].addresses[0]: 198.18.0.100 is also a vip resource (announced by ARP on eth0): one address is announced by BGP or by ARP, not both"},
		{"active-active without bgp", `resources = [ { kind = "bgp", addresses = ["198.18.2.100"] } ]`, `resources = [ { kind = "script", path = "/bin/true" } ]`,
			"t.toml:31:8: group[1].mode: active-active needs a bgp resource in the group"},
		{"bgp without [bgp]", "[bgp]\nasn = 65001\nnodes = { lb1 = \"198.18.0.11/24\", lb2 = \"198.18.0.12/24\" }\nneighbors = [ { address = \"198.18.0.1\", asn = 65000 } ]\n", "",
			"group[1].resources[0].kind: a bgp resource needs a [bgp] table"},
		{"two bgp resources", `resources = [ { kind = "bgp", addresses = ["198.18.2.100"] } ]`, `resources = [ { kind = "bgp", addresses = ["198.18.2.100"] }, { kind = "bgp", addresses = ["198.18.2.101"] } ]`,
			`group[1].resources[1].kind: a second bgp resource in group "edge": list every address in one`},
		{"hold time under 3s", "asn = 65001", "asn = 65001\nhold_time = \"1s\"", "t.toml:26:13: bgp.hold_time: 1s is under 3s"},
	}
	for _, tt := range tests {
		in := strings.Replace(bgpBase, tt.from, tt.to, 1)
		if in == bgpBase {
			t.Fatalf("%s: %q not in the base", tt.desc, tt.from)
		}
		_, err := parse([]byte(in), "t.toml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse() error = %v\nwant a line containing %q", tt.desc, err, tt.want)
		}
	}
}
