package serviceconf

import (
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
)

// TestServiceErrors: every problem of the [[service]] section is
// reported, each at FILE:LINE:COL with its key path.
func TestServiceErrors(t *testing.T) {
	base := minimal + svc
	tests := []struct {
		desc string
		in   string
		want []string // every line must appear in the error
	}{
		{
			desc: "limits and timeouts on the wrong kind of service",
			in:   strings.Replace(base, `listen = "198.18.0.100:80"`, "listen = \"198.18.0.100:80\"\nbody_timeout = \"5s\"\nmax_flows = 10\nmaxconn = 0", 1),
			want: []string{
				`t.toml:22:1: service[0].body_timeout: key "body_timeout" is not used by mode "l4": it bounds an HTTP request's body`,
				`t.toml:23:1: service[0].max_flows: key "max_flows" is not used by protocol "tcp": it bounds a udp service's flow table`,
				`service[0].maxconn: 0 is out of range 1..16777216`,
			},
		},
		{
			desc: "service checks",
			in: base + `
[[service]]
name = "http"
listen = "198.18.0.200:80"
protocol = "udp"
mode = "http"
scheduler = "fastest"
fallback = "nope"
check = { type = "0", request = "status", receive = "(", interval = "1s", timeout = "2s", status = 700, rise = 0 }
reals = [ { address = "198.18.1.1:80", weight = -1 }, { address = "198.18.1.1:80" }, { address = "198.18.1.2:0" } ]
monitors = [ { interval = "1s" } ]

[[service]]
name = "dns"
listen = "127.0.0.1"
protocol = "udp"
check = { type = "http" }

[[service]]
name = "ext"
listen = "0.0.0.0:25"
check = { type = "external" }
reals = [ { address = "198.18.1.3:25" } ]

[[service]]
name = "neg"
listen = "[::]:8080"
check = { type = "negotiate" }
reals = [ { address = "[2001:db8::1]:80" } ]
`,
			want: []string{
				"t.toml:25:8: service[1].name: service name \"http\" is used again (first at t.toml:20:8)",
				"t.toml:26:10: service[1].listen: 198.18.0.200 is not a VIP of any group; listen on a group's vip address, a loopback or 0.0.0.0/[::]",
				"t.toml:28:8: service[1].mode: http mode needs protocol \"tcp\"; udp services are l4",
				"t.toml:29:13: service[1].scheduler: \"fastest\" is not one of rr, wrr, lc, wlc, sh",
				"t.toml:30:12: service[1].fallback: host name \"nope\" does not resolve: lookup nope: no such host (names are resolved when had starts and at every reload)",
				"t.toml:31:18: service[1].check.type: \"0\": N must be a positive integer (connect every interval, negotiate every Nth)",
				"t.toml:31:53: service[1].check.receive: compiling regular expression \"(\": error parsing regexp: missing closing ): `(`",
				"t.toml:31:85: service[1].check.timeout: 2s is longer than interval 1s: a hung real would be probed once per timeout, so fall × interval would not bound detection",
				"t.toml:31:100: service[1].check.status: 700 is out of range 100..599",
				"t.toml:31:112: service[1].check.rise: 0 is out of range 1..100",
				"t.toml:32:49: service[1].reals[0].weight: -1 is out of range 0..65535",
				"t.toml:32:67: service[1].reals[1].address: 198.18.1.1:80 is listed again (first at t.toml:32:23)",
				"t.toml:32:98: service[1].reals[2].address: \"198.18.1.2:0\": port 0 is not a port",
				"t.toml:33:14: service[1].monitors[0].script: required",
				"t.toml:35:3: service[2].reals: want at least one real (or a fallback): there is nothing to forward to",
				"t.toml:37:10: service[2].listen: \"127.0.0.1\" is not an address, want \"IP:PORT\", e.g. \"198.18.0.10:80\" or \"[2001:db8::1]:80\"",
				"t.toml:39:18: service[2].check.type: \"http\" cannot probe a udp service; use sip or external",
				"t.toml:44:1: service[3].check.program: required for check type \"external\"",
				"t.toml:50:1: service[4].check.receive: required for check type \"negotiate\": a regexp the response must match",
			},
		},
		{
			desc: "same listen address twice",
			in:   base + "\n[[service]]\nname = \"http2\"\nlisten = \"198.18.0.100:80\"\nreals = [ { address = \"198.18.1.12:80\" } ]\n",
			want: []string{"t.toml:26:10: service[1].listen: tcp 198.18.0.100:80 collides with tcp 198.18.0.100:80 of service \"http\" (first at t.toml:21:10)"},
		},
		{
			desc: "udp needs a check type",
			in:   base + "\n[[service]]\nname = \"sip\"\nlisten = \"198.18.0.100:5060\"\nprotocol = \"udp\"\nreals = [ { address = \"198.18.1.21\" } ]\n",
			want: []string{"t.toml:24:3: service[1].check.type: required for udp services: a UDP connect probes nothing (want sip or external)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := parse(tt.in, "t.toml")
			configtest.WantErrors(t, err, tt.want)
		})
	}
}
