package config

import (
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
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
			`t.toml:33:1: group[1].auto_failback: key "auto_failback" is not used by mode "active-active": every healthy node holds the group, so it never fails back`},
		{"failback_hold with every group active-active",
			edit(minimal, "id = 7", "id = 7\nauto_failback = true\nfailback_hold = \"2s\"") + bgpBase[len(minimal+svc):],
			`t.toml:5:1: cluster.failback_hold: key "failback_hold" has no effect: every group is active-active, held by every healthy node, so none fails back`},
		{"preferred in an active-active group", bgpBase + "preferred = \"lb1\"\n",
			`t.toml:33:1: group[1].preferred: key "preferred" is not used by mode "active-active": every healthy node holds the group, so no node is preferred`},
		{"failback_min_healthy in an active-active group", bgpBase + "failback_min_healthy = 1\n",
			`t.toml:33:1: group[1].failback_min_healthy: key "failback_min_healthy" is not used by mode "active-active": every healthy node holds the group, so it never fails back`},
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
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := parse([]byte(tt.in), "t.toml")
			configtest.WantExactly(t, err, tt.want)
		})
	}
}
