package main

import "testing"

// apiGroup is a second group, preferred on lb2, with its own VIP.
const apiGroup = `
[[group]]
name = "api"
preferred = "lb2"
resources = [ { kind = "vip", address = "198.18.0.101/24", interface = "eth0" } ]
`

// TestCheckConfigSiblings runs the kin of issue 8's cases that a tester
// found still passing the check, or reading badly: each must fail with
// exit status 1 and exactly these lines (FILE stands for the file's path).
// The configs are for lb1 and lb2, so host facts are off (--no-host);
// TestCheckConfigHostFacts covers them.
func TestCheckConfigSiblings(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"service on another group's VIP", func(t *testing.T) string {
			return replace(t, caseBase, `listen = "198.18.0.100:80"`, `listen = "198.18.0.101:80"`) + apiGroup
		}, []string{
			`FILE:21:10: service[0].listen: 198.18.0.101 is a VIP of group "api" (FILE:28:41), but group "web" activates the service (FILE:16:36): whenever the two groups are on different nodes, the balancer would take traffic on the node that does not hold the address; listen on a VIP of group "web", or activate the service in group "api"'s balancer`,
		}},
		{"VIP on its subnet's broadcast address", func(t *testing.T) string {
			return replace(t, replace(t, caseBase, `address = "198.18.0.100/24"`, `address = "198.18.0.255/24"`), `listen = "198.18.0.100:80"`, `listen = "198.18.0.255:80"`)
		}, []string{
			`FILE:15:29: group[0].resources[0].address: 198.18.0.255/24 cannot be a virtual address: it is the broadcast address of 198.18.0.0/24; pick a host address, or write the prefix of the subnet it belongs to`,
		}},
		{"service no balancer activates", func(t *testing.T) string {
			return caseBase + "\n[[service]]\nname = \"spare\"\nlisten = \"198.18.0.100:81\"\nreals = [ { address = \"198.18.1.22:81\" } ]\n"
		}, []string{
			`FILE:26:8: service[1].name: service "spare" is in no balancer resource, so no node would ever activate it: add it to the services of the balancer of the group whose VIP it listens on`,
		}},
		// The unset warntime, derived from the two, fails too: only the
		// root is reported.
		{"derived warntime", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"200ms\"\ndeadtime = \"200ms\"\n"), []string{
			`FILE:5:12: cluster.deadtime: 200ms must be longer than 2×keepalive (400ms): at 2×keepalive or less a single lost heartbeat declares the peer dead`,
		}},
		{"derived deadtime", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"200ms\"\nwarntime = \"2s\"\n"), []string{
			`FILE:5:12: cluster.warntime: 2s must be shorter than deadtime 800ms (unset: 4×keepalive)`,
		}},
		{"initdead below a derived deadtime", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"100ms\"\ninitdead = \"300ms\"\n"), []string{
			`FILE:5:12: cluster.initdead: 300ms is shorter than deadtime 400ms (unset: 4×keepalive): a starting node would take groups before it could hear its peers`,
		}},
		{"deadtime whose failback_hold would wrap", edit(caseBase, "id = 7\n", "id = 7\nauto_failback = true\ndeadtime = \"1500000h\"\n"), []string{
			`FILE:5:12: cluster.deadtime: 1500000h0m0s is longer than 1000000h0m0s, the most hapair takes (initdead and failback_hold default to 2×deadtime)`,
		}},
		{"ping node on loopback", func(t *testing.T) string {
			return caseBase + "\n[[ping]]\naddress = \"127.0.0.1\"\n"
		}, []string{
			`FILE:26:11: ping[0].address: 127.0.0.1 is a loopback address: this host always answers it, so it breaks no tie; want an address beyond this host (e.g. the gateway)`,
		}},
		{"admin listener on a service's port", func(t *testing.T) string {
			s := replace(t, caseBase, `listen = "198.18.0.100:80"`, `listen = "0.0.0.0:80"`)
			return s + "\n[admin]\nlisten = \"127.0.0.1:80\"\n"
		}, []string{
			`FILE:26:10: admin.listen: 127.0.0.1:80 is also where service "http" listens (FILE:21:10): had binds both at start; pick another port for one of them`,
		}},
		{"conntrack-sync on a heartbeat address and port", func(t *testing.T) string {
			return replace(t, caseBase, `  { kind = "balancer"`, `  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.12"], port = 694 },
  { kind = "balancer"`)
		}, []string{
			`FILE:16:63: group[0].resources[1].addresses[0]: 198.18.1.11:694 is also node lb1's heartbeat address and port on link ucast0 (FILE:9:17): conntrackd could not bind it at a takeover; give conntrack-sync another port`,
			`FILE:16:78: group[0].resources[1].addresses[1]: 198.18.1.12:694 is also node lb2's heartbeat address and port on link ucast0 (FILE:9:38): conntrackd could not bind it at a takeover; give conntrack-sync another port`,
		}},
		{"conntrack-sync on the persistence sync port", func(t *testing.T) string {
			s := replace(t, caseBase, `  { kind = "balancer"`, `  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.12"], port = 695 },
  { kind = "balancer"`)
			return replace(t, s, `check = { type = "connect" }`, `check = { type = "connect" }`+"\npersistent = \"300s\"")
		}, []string{
			`FILE:16:63: group[0].resources[1].addresses[0]: 198.18.1.11:695 is also node lb1's persistence sync address and port on link ucast0 (its heartbeat port + 1; FILE:9:17): conntrackd could not bind it at a takeover; give conntrack-sync another port`,
			`FILE:16:78: group[0].resources[1].addresses[1]: 198.18.1.12:695 is also node lb2's persistence sync address and port on link ucast0 (its heartbeat port + 1; FILE:9:38): conntrackd could not bind it at a takeover; give conntrack-sync another port`,
		}},
		{"weights out of range, one wording", func(t *testing.T) string {
			s := replace(t, caseBase, `{ address = "198.18.1.21:80" }`, `{ address = "198.18.1.21:80", weight = 70000 }`)
			return s + "\n[[ping]]\naddress = \"198.18.0.1\"\nweight = 300\n\n[[track]]\nname = \"db\"\nscript = \"/bin/true\"\nweight = -1\n"
		}, []string{
			`FILE:23:50: service[0].reals[0].weight: 70000 is out of range 0..65535`,
			`FILE:27:10: ping[0].weight: 300 is out of range 0..254`,
			`FILE:32:10: track[0].weight: -1 is out of range 0..254`,
		}},
	})
}
