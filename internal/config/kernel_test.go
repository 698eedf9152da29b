package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestConntrackSync: a conntrack-sync resource takes its port's default
// and one IPv4 address per node, the two nodes' in [cluster].nodes order.
func TestConntrackSync(t *testing.T) {
	ok := strings.Replace(minimal+svc, "resources = [\n", "resources = [\n"+
		`  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.12"] },`+"\n", 1)
	cfg, err := parse([]byte(ok), "t.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	cs := cfg.Groups[0].Resources[0].ConntrackSync
	if cs == nil || cs.Interface != "eth1" || cs.Port != 3780 || cs.Addresses["lb2"] != netip.MustParseAddr("198.18.1.12") {
		t.Errorf("conntrack-sync = %+v", cs)
	}
	tests := []struct{ desc, from, to, want string }{
		{"three addresses", `["198.18.1.11", "198.18.1.12"]`, `["198.18.1.11", "198.18.1.12", "198.18.1.13"]`, `two nodes`},
		{"bad address", `"198.18.1.12"]`, `"lb2"]`, `resources[0].addresses[1]: "lb2" is not an IPv4 address`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := parse([]byte(strings.Replace(ok, tt.from, tt.to, 1)), "t.toml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}

// TestKernelProbe: a host whose kernel lacks what nat or dr needs fails
// the check at the first kernel service's method key, with the probe's
// reason; the probe is asked once, for dr only when a dr service exists,
// and not at all for a config with userspace services only.
func TestKernelProbe(t *testing.T) {
	cfgText := func(methods ...string) string {
		text := minimal + `
[[group]]
name = "web"
preferred = "lb1"
resources = [
  { kind = "balancer", services = [` + `"s0"` + strings.Repeat(`, "s`+"1"+`"`, len(methods)-1) + `] },
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
]
`
		for i, m := range methods {
			text += "\n[[service]]\nname = \"s" + string(rune('0'+i)) + "\"\nmethod = \"" + m + "\"\n"
			if m == "dr" {
				text += "interface = \"eth0\"\n"
			}
			text += "listen = \"198.18.0.100:" + string(rune('1'+i)) + "0\"\nreals = [ { address = \"198.18.0.21:" + string(rune('1'+i)) + "0\" } ]\n"
		}
		return text
	}
	tests := []struct {
		name    string
		methods []string
		wantDR  []bool // the probe's calls
		fail    bool
		want    string
	}{
		{"proxy only: not asked", []string{"proxy"}, nil, true, ""},
		{"nat: asked without dr", []string{"proxy", "nat"}, []bool{false}, false, ""},
		{"nat missing", []string{"proxy", "nat"}, []bool{false}, true, `service[1].method: kernel forwarding cannot run on this host: no nat chain`},
		{"dr missing", []string{"dr", "nat"}, []bool{true}, true, `service[0].method: kernel forwarding cannot run on this host: no nat chain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []bool
			h := &Host{Kernel: func(dr bool) error {
				calls = append(calls, dr)
				if tt.fail {
					return errors.New("no nat chain")
				}
				return nil
			}}
			_, err := Parse([]byte(cfgText(tt.methods...)), "t.toml", Options{Services: TestServiceRules, Host: h})
			if fmt.Sprint(calls) != fmt.Sprint(tt.wantDR) {
				t.Errorf("probe calls (dr) = %v, want %v", calls, tt.wantDR)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("parse = %v, want ok", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("parse = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
