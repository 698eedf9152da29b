package serviceconf

import (
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/fwd"
)

// TestKernelMethods: nat and dr services are read with what the kernel
// methods cannot do refused at its key, with the reason, including what
// proxy/nft would refuse at start.
func TestKernelMethods(t *testing.T) {
	ok := minimal + `
[[group]]
name = "web"
preferred = "lb1"
resources = [
  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.12"] },
  { kind = "balancer", services = ["nat", "dr"] },
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
]

[[service]]
name = "nat"
method = "nat"
listen = "198.18.0.100:80"
scheduler = "rr"
reals = [ { address = "198.18.0.21:8080" } ]

[[service]]
name = "dr"
method = "dr"
interface = "eth0"
listen = "198.18.0.100:443"
reals = [ { address = "198.18.0.21:443" } ]
`
	cfg, err := parse(ok, "t.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := []fwd.Method{cfg.Services[0].Method, cfg.Services[1].Method}; got[0] != "nat" || got[1] != "dr" {
		t.Errorf("methods = %v, want nat dr", got)
	}
	if cfg.Services[1].Interface != "eth0" {
		t.Errorf("dr interface = %q", cfg.Services[1].Interface)
	}
	def, err := parse(minimal+svc, "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if m := def.Services[0].Method; m != "proxy" {
		t.Errorf("default method = %q, want proxy", m)
	}

	tests := []struct{ desc, from, to, want string }{
		{"lc rejected with the reason", `scheduler = "rr"`, `scheduler = "wlc"`, `service[0].scheduler: "wlc" with method "nat": the kernel rule path cannot count`},
		{"unknown method", `method = "nat"`, `method = "tun"`, `service[0].method`},
		{"http mode", `scheduler = "rr"`, `mode = "http"`, `http mode needs method "proxy"`},
		{"dr port", `"198.18.0.21:443"`, `"198.18.0.21:8443"`, `holds the VIP on a loopback with arp_ignore=1 and arp_announce=2`},
		{"dr interface", `interface = "eth0"` + "\n" + `listen = "198.18.0.100:443"`, `listen = "198.18.0.100:443"`, `service[1].interface: required`},
		{"loopback fallback", `scheduler = "rr"`, `fallback = "127.0.0.1:80"`, `a loopback fallback cannot take forwarded packets`},
		// What proxy/nft refuses at start, positioned by the check.
		{"loopback real", `"198.18.0.21:8080"`, `"127.0.0.1:8080"`, `t.toml:25:23: service[0].reals[0].address: 127.0.0.1:8080: a loopback real cannot take forwarded packets with method "nat"; give a server on the reals' network`},
		{"IPv6 real", `"198.18.0.21:8080"`, `"[2001:db8::21]:8080"`, `t.toml:25:23: service[0].reals[0].address: [2001:db8::21]:8080: method "nat" is IPv4 only: give the real's IPv4 address, or method "proxy"`},
		{"IPv6 dr real", `"198.18.0.21:443"`, `"[2001:db8::21]:443"`, `t.toml:32:23: service[1].reals[0].address: [2001:db8::21]:443: method "dr" is IPv4 only: give the real's IPv4 address, or method "proxy"`},
		{"IPv4-mapped real", `"198.18.0.21:8080"`, `"[::ffff:198.18.0.21]:8080"`, `t.toml:25:23: service[0].reals[0].address: [::ffff:198.18.0.21]:8080: method "nat" is IPv4 only: give the real's IPv4 address, or method "proxy"`},
		{"dr fallback on another port", `listen = "198.18.0.100:443"`, `listen = "198.18.0.100:443"` + "\n" + `fallback = "198.18.0.99:8443"`, `t.toml:32:12: service[1].fallback: 198.18.0.99:8443: dr forwards frames unchanged, so the fallback serves the virtual port 443 itself`},
		{"IPv6 fallback", `scheduler = "rr"`, `fallback = "[2001:db8::99]:80"`, `t.toml:24:12: service[0].fallback: [2001:db8::99]:80: method "nat" is IPv4 only: give the fallback's IPv4 address, or method "proxy"`},
		{"fallback equal to a real", `scheduler = "rr"`, `fallback = "198.18.0.21:8080"`, `t.toml:24:12: service[0].fallback: 198.18.0.21:8080 is already listed as a real or backup: the fallback serves only when every one of them is down, so it would be down too (first at t.toml:25:23)`},
		{"the same real twice", `reals = [ { address = "198.18.0.21:8080" } ]`, `reals = [ { address = "198.18.0.21:8080" }, { address = "198.18.0.21:8080" } ]`, `t.toml:25:57: service[0].reals[1].address: 198.18.0.21:8080 is listed again (first at t.toml:25:23)`},
		{"sub-second persistence", `scheduler = "rr"`, `persistent = "500ms"`, `t.toml:24:14: service[0].persistent: 500ms: method "nat" takes 0 (off) or at least 1s, as ipvsadm -p counts whole seconds`},
		{"wrr slot map too large", `scheduler = "rr"` + "\n" + `reals = [ { address = "198.18.0.21:8080" } ]`, `scheduler = "wrr"` + "\n" + `reals = [ { address = "198.18.0.21:8080", weight = 4000 }, { address = "198.18.0.22:8080", weight = 97 } ]`, `t.toml:25:1: service[0].reals: wrr weights need 4097 slots in the kernel's slot map, more than 4096: use smaller weights with a common divisor`},
		{"sh slot map too large", `listen = "198.18.0.100:443"` + "\n" + `reals = [ { address = "198.18.0.21:443" } ]`, `listen = "198.18.0.100:443"` + "\n" + `scheduler = "sh"` + "\n" + `reals = [ { address = "198.18.0.21:443", weight = 4095 }, { address = "198.18.0.22:443", weight = 2 } ]`, `t.toml:33:1: service[1].reals: sh weights need 4097 slots in the kernel's slot map, more than 4096: use smaller weights with a common divisor`},
		{"name nftables cannot carry", `name = "nat"` + "\n" + `method = "nat"`, `name = "nat.v2"` + "\n" + `method = "nat"`, `t.toml:21:8: service[0].name: "nat.v2": method "nat" names its nftables chains and maps after the service: want only A-Z a-z 0-9 _ -`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			in := strings.Replace(ok, tt.from, tt.to, 1)
			if in == ok {
				t.Fatalf("replacement %q not found", tt.from)
			}
			_, err := parse(in, "t.toml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
