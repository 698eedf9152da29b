package serviceconf

import (
	"slices"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
)

// TestMootKeys: a [[service]] key that the service's method, protocol or
// mode does not use is refused, alone, at the key, naming it and the
// setting; the same key where it has an effect is accepted.
func TestMootKeys(t *testing.T) {
	base := minimal + svc
	service := func(kv string) string {
		return strings.Replace(base, `listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\n"+kv, 1)
	}
	nat := func(kv string) string { return service("method = \"nat\"\n" + kv) }
	tests := []struct{ desc, in, want string }{
		{"interface on a proxy service", service(`interface = "eth0"`),
			`t.toml:22:1: service[0].interface: key "interface" is not used by method "proxy": only dr takes the interface its VIP's packets arrive on`},
		{"a dr service without its interface", service(`method = "dr"`),
			`t.toml:19:3: service[0].interface: required for method "dr": the interface the VIP's packets arrive on, where dr rewrites their MAC address at ingress`},
		{"interface on a nat service", nat(`interface = "eth0"`),
			`t.toml:23:1: service[0].interface: key "interface" is not used by method "nat": only dr takes the interface its VIP's packets arrive on`},
		{"mode l4 on a nat service", nat(`mode = "l4"`),
			`t.toml:23:1: service[0].mode: key "mode" is not used by method "nat": the kernel forwards packets and has no l4 or http mode`},
		{"connect_timeout on a nat service", nat(`connect_timeout = "1s"`),
			`t.toml:23:1: service[0].connect_timeout: key "connect_timeout" is not used by method "nat": the kernel forwards packets and opens no connection to the reals`},
		{"idle_timeout on a nat service", nat(`idle_timeout = "1m"`),
			`t.toml:23:1: service[0].idle_timeout: key "idle_timeout" is not used by method "nat": the kernel's conntrack timeouts end its flows`},
		{"maxconn on a nat service", nat(`maxconn = 100`),
			`t.toml:23:1: service[0].maxconn: key "maxconn" is not used by method "nat": the kernel forwards packets with no per-service bound`},
		{"backups on a nat service", nat(`backups = [ { address = "198.18.1.12:80" } ]`),
			`t.toml:23:1: service[0].backups: key "backups" is not used by method "nat": the kernel has one pool of reals; backups and monitors need method "proxy"`},
		{"monitors on a dr service", service("method = \"dr\"\ninterface = \"eth0\"") + "monitors = [ { script = \"/bin/true\" } ]\n",
			`t.toml:25:1: service[0].monitors: key "monitors" is not used by method "dr": the kernel has one pool of reals; backups and monitors need method "proxy"`},
		{"max_flows on a udp nat service", nat("protocol = \"udp\"\ncheck = { type = \"sip\" }\nmax_flows = 100"),
			`t.toml:25:1: service[0].max_flows: key "max_flows" is not used by method "nat": the kernel keeps its flows in conntrack`},
		{"connect_timeout on a udp service", service("protocol = \"udp\"\ncheck = { type = \"sip\" }\nconnect_timeout = \"1s\""),
			`t.toml:24:1: service[0].connect_timeout: key "connect_timeout" is not used by protocol "udp": datagrams are forwarded without a connection`},
		{"maxconn on a udp service", service("protocol = \"udp\"\ncheck = { type = \"sip\" }\nmaxconn = 10"),
			`t.toml:24:1: service[0].maxconn: key "maxconn" is not used by protocol "udp": udp services are bounded by max_flows`},
		{"max_flows on a tcp service", service("max_flows = 10"),
			`t.toml:22:1: service[0].max_flows: key "max_flows" is not used by protocol "tcp": it bounds a udp service's flow table`},
		{"request_timeout on an l4 service", service(`request_timeout = "5s"`),
			`t.toml:22:1: service[0].request_timeout: key "request_timeout" is not used by mode "l4": it bounds an HTTP request's head`},
		{"the same keys where they are used", service("mode = \"http\"\nrequest_timeout = \"5s\"\nbody_timeout = \"5s\"\nconnect_timeout = \"1s\"\nidle_timeout = \"1m\"\nmaxconn = 10"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := parse(tt.in, "t.toml")
			configtest.WantExactly(t, err, tt.want)
		})
	}
}

// TestHabits: quiescent without persistent and weights under rr or lc
// load, with a positioned warning saying why they make no difference.
func TestHabits(t *testing.T) {
	base := minimal + svc
	tests := []struct {
		desc, old, new string
		want           []string
	}{
		{"quiescent without persistent", `listen = "198.18.0.100:80"`, "listen = \"198.18.0.100:80\"\nquiescent = true",
			[]string{`t.toml:22:13: service[0].quiescent: quiescent = true makes no difference without persistent: a failed real takes no new connections either way and its established ones finish; it keeps persistent clients on their real until it is back`}},
		{"quiescent with persistent", `listen = "198.18.0.100:80"`, "listen = \"198.18.0.100:80\"\nquiescent = true\npersistent = \"5m\"", nil},
		{"weights under rr", `reals = [ { address = "198.18.1.11:80" } ]`, "scheduler = \"rr\"\nreals = [ { address = \"198.18.1.11:80\", weight = 3 }, { address = \"198.18.1.12:80\", weight = 0 } ]",
			[]string{`t.toml:23:50: service[0].reals[0].weight: weight 3 makes no difference under scheduler "rr", which takes every real with a weight above 0 in turn, as IPVS rr does; wrr weighs reals`}},
		{"backup weight under lc", `reals = [ { address = "198.18.1.11:80" } ]`, "scheduler = \"lc\"\nreals = [ { address = \"198.18.1.11:80\" } ]\nbackups = [ { address = \"198.18.1.12:80\", weight = 2 } ]",
			[]string{`t.toml:24:52: service[0].backups[0].weight: weight 2 makes no difference under scheduler "lc", which picks the real with the fewest connections whatever its weight above 0, as IPVS lc does; wlc weighs reals`}},
		{"weights under wrr", `reals = [ { address = "198.18.1.11:80" } ]`, "reals = [ { address = \"198.18.1.11:80\", weight = 3 } ]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cfg, err := parse(strings.Replace(base, tt.old, tt.new, 1), "t.toml")
			if err != nil {
				t.Fatalf("Parse() error:\n%v", err)
			}
			if got := cfg.Warnings(); !slices.Equal(got, tt.want) {
				t.Errorf("Warnings() = %q,\nwant %q", got, tt.want)
			}
		})
	}
}
