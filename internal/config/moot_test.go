package config

import (
	"slices"
	"strings"
	"testing"
)

// TestMootKeys: a key that the rest of the config makes moot is refused,
// alone, at the key, naming it and what makes it moot; the same key where
// it has an effect is accepted.
func TestMootKeys(t *testing.T) {
	base := minimal + svc
	edit := func(in, old, new string) string {
		t.Helper()
		if !strings.Contains(in, old) {
			t.Fatalf("no %q in\n%s", old, in)
		}
		return strings.Replace(in, old, new, 1)
	}
	cluster := func(kv string) string { return edit(base, "id = 7", "id = 7\n"+kv) }
	group := func(kv string) string { return edit(base, `preferred = "lb1"`, `preferred = "lb1"`+"\n"+kv) }
	service := func(kv string) string {
		return edit(base, `listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\n"+kv)
	}
	nat := func(kv string) string { return service("method = \"nat\"\n" + kv) }
	vip := func(garp string) string {
		return edit(base, `interface = "eth0" }`, `interface = "eth0", garp = { `+garp+` } }`)
	}
	tests := []struct{ desc, in, want string }{
		// failback
		{"failback_hold with auto_failback off by default", cluster(`failback_hold = "2s"`),
			`t.toml:4:1: cluster.failback_hold: key "failback_hold" has no effect: auto_failback is off in every group (set auto_failback = true in [cluster] or in a group)`},
		{"failback_hold with auto_failback off in the only group", cluster("failback_hold = \"2s\"\nauto_failback = true") + "", ""},
		{"failback_hold with every group's auto_failback off",
			edit(cluster("failback_hold = \"2s\"\nauto_failback = true"), `preferred = "lb1"`, "preferred = \"lb1\"\nauto_failback = false"),
			`t.toml:4:1: cluster.failback_hold: key "failback_hold" has no effect: auto_failback is off in every group (set auto_failback = true in [cluster] or in a group)`},
		{"failback_hold with a group's auto_failback on", edit(cluster(`failback_hold = "2s"`), `preferred = "lb1"`, "preferred = \"lb1\"\nauto_failback = true"), ""},
		{"failback_min_healthy with auto_failback off by default", group("failback_min_healthy = 1"),
			`t.toml:14:1: group[0].failback_min_healthy: key "failback_min_healthy" has no effect: auto_failback is off for group "web" (cluster.auto_failback defaults to false, Heartbeat's auto_failback off); it counts the healthy reals only before a failback`},
		{"failback_min_healthy with the group's auto_failback off", group("auto_failback = false\nfailback_min_healthy = 1"),
			`t.toml:15:1: group[0].failback_min_healthy: key "failback_min_healthy" has no effect: auto_failback is off for group "web" (auto_failback = false at t.toml:14:17); it counts the healthy reals only before a failback`},
		{"failback_min_healthy with the cluster's auto_failback off", edit(group("failback_min_healthy = 1"), "id = 7", "id = 7\nauto_failback = false"),
			`t.toml:15:1: group[0].failback_min_healthy: key "failback_min_healthy" has no effect: auto_failback is off for group "web" (cluster.auto_failback = false at t.toml:4:17); it counts the healthy reals only before a failback`},
		{"failback_min_healthy out of range and moot: the range only", group("failback_min_healthy = -1"),
			`t.toml:14:24: group[0].failback_min_healthy: -1 is out of range 0..65535`},
		{"auto_failback in an active-active group", bgpBase + "auto_failback = true\n",
			`t.toml:34:1: group[1].auto_failback: key "auto_failback" is not used by mode "active-active": every healthy node holds the group, so it never fails back`},
		{"failback_hold with every group active-active",
			edit(minimal, "id = 7", "id = 7\nauto_failback = true\nfailback_hold = \"2s\"") + bgpBase[len(minimal+svc):],
			`t.toml:5:1: cluster.failback_hold: key "failback_hold" has no effect: every group is active-active, held by every healthy node, so none fails back`},
		{"failback_min_healthy in an active-active group", bgpBase + "failback_min_healthy = 1\n",
			`t.toml:34:1: group[1].failback_min_healthy: key "failback_min_healthy" is not used by mode "active-active": every healthy node holds the group, so it never fails back`},
		// garp, bgp, admin
		{"[garp] without a vip", edit(edit(base, `{ kind = "vip", address = "198.18.0.100/24", interface = "eth0" },`, ""), `listen = "198.18.0.100:80"`, `listen = "127.0.0.1:80"`) + "\n[garp]\ncount = 3\nrefresh = \"1m\"\n",
			"t.toml:25:1: garp.count: key \"count\" has no effect: no group has a vip resource ([garp] is the gratuitous ARP schedule of vip resources)\n" +
				`t.toml:26:1: garp.refresh: key "refresh" has no effect: no group has a vip resource ([garp] is the gratuitous ARP schedule of vip resources)`},
		{"[garp] with the vip's kind misspelt: the kind alone", edit(base, `kind = "vip"`, `kind = "vpi"`) + "\n[garp]\ncount = 3\n",
			`t.toml:15:12: group[0].resources[0].kind: "vpi" is not one of balancer, bgp, conntrack-sync, ipvs-sync, script, vip`},
		{"a vip's garp interval with count 1", vip(`count = 1, interval = "1s"`),
			`t.toml:15:88: group[0].resources[0].garp.interval: key "interval" has no effect: count = 1 sends one packet per burst, so there is no gap between packets`},
		{"[garp] interval inherited by a vip with count 1", base + "\n[garp]\ncount = 1\ninterval = \"1s\"\n",
			`t.toml:26:1: garp.interval: key "interval" has no effect: in every vip that takes it from [garp], count = 1 sends one packet per burst, so there is no gap between packets`},
		{"[garp] interval inherited by a vip with count 3", edit(base, `interface = "eth0" }`, `interface = "eth0", garp = { count = 3 } }`) + "\n[garp]\ncount = 1\ninterval = \"1s\"\n", ""},
		{"garp form on an IPv6 vip", edit(base, `{ kind = "vip", address = "198.18.0.100/24", interface = "eth0" },`, `{ kind = "vip", address = "198.18.0.100/24", interface = "eth0" }, { kind = "vip", address = "2001:db8::100/64", interface = "eth0", garp = { form = "reply" } },`),
			`t.toml:15:145: group[0].resources[1].garp.form: key "form" has no effect: an IPv6 VIP is announced by unsolicited neighbour advertisements, which have no ARP request or reply form`},
		{"[bgp] without a bgp resource", base + "\n[bgp]\nasn = 65001\nnodes = { lb1 = \"198.18.0.11/24\", lb2 = \"198.18.0.12/24\" }\nneighbors = [ { address = \"198.18.0.1\", asn = 65000 } ]\n",
			`t.toml:24:2: bgp: no group has a bgp resource, so had runs no BIRD and [bgp] has no effect: add a bgp resource to a group, or remove [bgp]`},
		{"admin allow_remote without listen", base + "\n[admin]\nallow_remote = true\n",
			`t.toml:25:1: admin.allow_remote: key "allow_remote" has no effect: the admin listener is off (admin.listen is not set)`},
		// services
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
			_, err := parse([]byte(tt.in), "t.toml")
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Parse() error:\n%v\nwant none", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Parse() error:\n%v\nwant exactly:\n%s", err, tt.want)
			}
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
			cfg, err := parse([]byte(strings.Replace(base, tt.old, tt.new, 1)), "t.toml")
			if err != nil {
				t.Fatalf("Parse() error:\n%v", err)
			}
			if got := cfg.Warnings(); !slices.Equal(got, tt.want) {
				t.Errorf("Warnings() = %q,\nwant %q", got, tt.want)
			}
		})
	}
}
