package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
)

// bgpCase is caseBase with a [bgp] table and an active-active group
// announcing 198.18.2.100 by BGP.
var bgpCase = caseBase + configtest.BGP

// TestCheckConfigReview runs configs a fresh reviewer found passing the
// check although had would then not serve them, or would cut the
// cluster's own traffic: each must fail with exit status 1 and exactly
// these lines (FILE stands for the file's path).
func TestCheckConfigReview(t *testing.T) {
	runCheckCases(t, []checkCase{
		// The kernel rules match a packet's destination address: 0.0.0.0
		// never is one, and a loopback address never arrives from a client.
		{"nat service on the wildcard address", func(t *testing.T) string {
			s := replace(t, caseBase, `listen = "198.18.0.100:80"`, `listen = "0.0.0.0:80"`)
			return replace(t, s, "check = {", "method = \"nat\"\ncheck = {")
		}, []string{
			`FILE:21:10: service[0].listen: 0.0.0.0:80: method "nat" forwards the packets whose destination is the listen address, and no packet is addressed to 0.0.0.0; listen on a VIP of the group, or use method "proxy"`,
		}},
		{"dr service on a loopback address", func(t *testing.T) string {
			s := replace(t, caseBase, `listen = "198.18.0.100:80"`, `listen = "127.0.0.1:80"`)
			return replace(t, s, "check = {", "method = \"dr\"\ninterface = \"eth0\"\ncheck = {")
		}, []string{
			`FILE:21:10: service[0].listen: 127.0.0.1:80: method "dr" forwards the packets whose destination is the listen address, and no client's packet is addressed to a loopback address; listen on a VIP of the group, or use method "proxy"`,
		}},
		// Every node holding a bgp group binds its addresses on lo, so an
		// address another node or a router uses is taken from it.
		{"bgp address is a node's heartbeat address", edit(bgpCase, `addresses = ["198.18.2.100"]`, `addresses = ["198.18.1.12"]`), []string{
			`FILE:33:44: group[1].resources[0].addresses[0]: 198.18.1.12 is node lb2's heartbeat address on link ucast0 (FILE:9:38): every node holding group "edge" binds it on lo, which would cut that node's heartbeat`,
		}},
		{"bgp address is a node's address on the neighbours' network", edit(bgpCase, `addresses = ["198.18.2.100"]`, `addresses = ["198.18.0.12"]`), []string{
			`FILE:33:44: group[1].resources[0].addresses[0]: 198.18.0.12 is node lb2's address on the BGP neighbours' network (FILE:27:41): every node holding group "edge" binds it on lo, which would cut that node's BGP sessions`,
		}},
		{"bgp address is a neighbour's", edit(bgpCase, `addresses = ["198.18.2.100"]`, `addresses = ["198.18.0.1"]`), []string{
			`FILE:33:44: group[1].resources[0].addresses[0]: 198.18.0.1 is the address of BGP neighbour 0 (FILE:28:27): every node holding group "edge" binds it on lo, and would no longer reach that router`,
		}},
		{"bgp address in two groups", func(t *testing.T) string {
			return bgpCase + "\n[[group]]\nname = \"edge2\"\npreferred = \"lb2\"\nresources = [ { kind = \"bgp\", addresses = [\"198.18.2.100\"] } ]\n"
		}, []string{
			`FILE:38:44: group[2].resources[0].addresses[0]: 198.18.2.100 is already announced by group "edge" (FILE:33:44): each group adds and removes it on lo by itself, so the two would fight over it`,
		}},
		{"bgp neighbour is a node", edit(bgpCase, `address = "198.18.0.1"`, `address = "198.18.0.11"`), []string{
			`FILE:28:27: bgp.neighbors[0].address: 198.18.0.11 is node lb1's own address (FILE:27:17): a node cannot be its own BGP neighbour; give the routers' addresses`,
		}},
		{"bgp neighbour listed twice", edit(bgpCase, `asn = 65000 }`, `asn = 65000 }, { address = "198.18.0.1", asn = 65002 }`), []string{
			`FILE:28:68: bgp.neighbors[1].address: 198.18.0.1 is listed again (first at FILE:28:27): BIRD would open two sessions to one router, which closes one of them (RFC 4271 section 6.8)`,
		}},
		// The SIP check sends OPTIONS over UDP whatever the service's
		// protocol: against a SIP-over-TCP real it never passed.
		{"sip check on a tcp service", edit(caseBase, `check = { type = "connect" }`, `check = { type = "sip" }`), []string{
			`FILE:22:18: service[0].check.type: "sip" sends its probe over UDP and cannot probe a tcp service; use connect, negotiate, http, external or a number N`,
		}},
		// preferred names who holds the group; priorities that rank
		// another node higher overruled it without a word.
		{"priorities overrule preferred", edit(caseBase, `preferred = "lb1"`, "preferred = \"lb1\"\npriorities = { lb1 = 100, lb2 = 200 }"), []string{
			`FILE:14:33: group[0].priorities.lb2: 200 ranks lb2 above lb1 (100), but preferred ranks lb1 first: the group would go to lb2; give lb2 a lower priority, or list lb2 first in preferred`,
		}},
		{"equal priorities give the group to the lower name", edit(caseBase, `preferred = "lb1"`, "preferred = \"lb2\"\npriorities = { lb1 = 150, lb2 = 150 }"), []string{
			`FILE:14:22: group[0].priorities.lb1: 150 ties lb1 with lb2 (150), and a tie goes to the lower node name, lb1, but preferred ranks lb2 first: the group would go to lb1; give lb1 a lower priority, or list lb1 first in preferred`,
		}},
		{"priority of an unlisted node above the list", edit(caseBase, `preferred = "lb1"`, "preferred = [\"lb2\"]\npriorities = { lb1 = 250 }"), []string{
			`FILE:14:22: group[0].priorities.lb1: 250 ranks lb1 above lb2 (200), but preferred ranks lb2 first: the group would go to lb1; give lb1 a lower priority, or list lb1 first in preferred`,
		}},
		{"preferred node's own priority below another's", edit(caseBase, `preferred = "lb1"`, "preferred = \"lb1\"\npriorities = { lb1 = 50 }"), []string{
			`FILE:14:22: group[0].priorities.lb1: 50 ranks lb1 below lb2 (100), but preferred ranks lb1 first: the group would go to lb2; give lb1 a higher priority than 100, or list lb2 first in preferred`,
		}},
		// Siblings of issue 8's case 9: a node's other own addresses.
		{"VIP equal to a node's conntrack-sync address", func(t *testing.T) string {
			s := replace(t, caseBase, `address = "198.18.0.100/24"`, `address = "198.18.0.12/24"`)
			s = replace(t, s, `listen = "198.18.0.100:80"`, `listen = "198.18.0.12:80"`)
			return replace(t, s, `  { kind = "balancer"`, `  { kind = "conntrack-sync", interface = "eth0", addresses = ["198.18.0.11", "198.18.0.12"] },
  { kind = "balancer"`)
		}, []string{
			`FILE:15:29: group[0].resources[0].address: VIP 198.18.0.12 is node lb2's conntrack-sync address (FILE:16:78): the group's owner would take it from that node and cut its connection sync`,
		}},
		{"VIP equal to a node's BGP address", func(t *testing.T) string {
			s := replace(t, bgpCase, `address = "198.18.0.100/24"`, `address = "198.18.0.12/24"`)
			return replace(t, s, `listen = "198.18.0.100:80"`, `listen = "198.18.0.12:80"`)
		}, []string{
			`FILE:15:29: group[0].resources[0].address: VIP 198.18.0.12 is node lb2's address on the BGP neighbours' network (FILE:27:41): the group's owner would take it from that node and cut its BGP sessions`,
		}},
		// A monitor's FAIL moves new connections to the backups; with none
		// the balancer stays on the reals, and the monitor changed nothing.
		{"monitors without backups", edit(caseBase, "check = {", "monitors = [ { script = \"/usr/local/bin/check-db\" } ]\ncheck = {"), []string{
			`FILE:22:1: service[0].monitors: key "monitors" has no effect: the service has no backups, and a monitor's FAIL only moves new connections to the backups (Zeus's slaves); add backups, or remove the monitors`,
		}},
		// keepalived's track_script weight 0 puts the instance in FAULT;
		// here a failed track check only lowers the priority by its weight.
		{"track check with weight 0", func(t *testing.T) string {
			return caseBase + "\n[[track]]\nname = \"db\"\nscript = \"/usr/local/bin/check-db\"\nweight = 0\n"
		}, []string{
			`FILE:28:10: track[0].weight: 0 makes the check change nothing: a failed track check lowers every group's priority here by its weight (keepalived's weight 0 puts the instance in FAULT instead); give it a weight, e.g. 150, more than the preferred node's lead`,
		}},
		// [service] for [[service]]: the decode kept an empty element, and
		// the check said the keys written under it were missing.
		{"[service] written for [[service]]", edit(caseBase, "[[service]]", "[service]"), []string{
			`FILE:19:2: service: want [[service]] (an array of tables), not [service] (one table)`,
		}},
		{"[service.reals] written for [[service.reals]]", edit(caseBase, `reals = [ { address = "198.18.1.21:80" } ]`, "\n[service.reals]\naddress = \"198.18.1.21:80\""), []string{
			`FILE:24:10: service[0].reals: want [[service.reals]] (an array of tables), not [service.reals] (one table)`,
		}},
		{"conntrack-sync with one address for both nodes", func(t *testing.T) string {
			return replace(t, caseBase, `  { kind = "balancer"`, `  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.11"] },
  { kind = "balancer"`)
		}, []string{
			`FILE:16:78: group[0].resources[1].addresses[1]: 198.18.1.11 is also node lb1's address (FILE:16:63): each node's conntrackd binds its own address and sends to the other's; give node lb2's`,
		}},
		// A loopback address reaches only the sending host.
		{"ucast link mixing loopback and other addresses", edit(caseBase, `lb2 = "198.18.1.12"`, `lb2 = "127.0.0.2"`), []string{
			`FILE:9:38: link[0].peers.lb2: 127.0.0.2 is a loopback address, but node lb1's, 198.18.1.11, is not: heartbeats to a loopback address never leave the sending host; give lb2's address on the link's network (every node on loopback is for a test on one host)`,
		}},
		// One mistake, one error: the peer is written, only not an address.
		{"ucast peer written as a host name", edit(caseBase, `lb2 = "198.18.1.12"`, `lb2 = "lb2.example"`), []string{
			`FILE:9:38: link[0].peers.lb2: "lb2.example" is not an IP address`,
		}},
		// dr hooks the ingress of its interface: the VIP's packets arrive
		// where the VIP is, and elsewhere dr never saw them.
		{"dr interface other than the VIP's", func(t *testing.T) string {
			return replace(t, caseBase, "check = {", "method = \"dr\"\ninterface = \"eth1\"\ncheck = {")
		}, []string{
			`FILE:23:13: service[0].interface: "eth1", but the VIP 198.18.0.100 it listens on is added on eth0 (FILE:15:60): clients' packets for it arrive there, and dr forwards only what arrives on its interface; write interface = "eth0"`,
		}},
		// An active-active group starts on every node with had and stops
		// with it: no node is preferred (the key was required and did
		// nothing) and no priority picks an owner.
		{"preferred in an active-active group", func(t *testing.T) string {
			return replace(t, bgpCase, `mode = "active-active"`, "mode = \"active-active\"\npreferred = \"lb1\"")
		}, []string{
			`FILE:33:1: group[1].preferred: key "preferred" is not used by mode "active-active": every healthy node holds the group, so no node is preferred`,
		}},
		{"priorities in an active-active group", func(t *testing.T) string {
			return replace(t, bgpCase, `mode = "active-active"`, "mode = \"active-active\"\npriorities = { lb1 = 200, lb2 = 150 }")
		}, []string{
			`FILE:33:1: group[1].priorities: key "priorities" is not used by mode "active-active": every healthy node holds the group, so no priority picks an owner`,
		}},
		// The kernel runs one master and one backup IPVS sync daemon: a
		// second resource restarted the first's with its own settings, and
		// its release stopped the daemon the other group still used.
		{"two ipvs-sync resources", func(t *testing.T) string {
			s := replace(t, caseBase, `  { kind = "balancer"`, `  { kind = "ipvs-sync", role = "master", interface = "eth0", sync_id = 1 },
  { kind = "balancer"`)
			return s + apiGroup[:len(apiGroup)-len(" } ]\n")] + " },\n  { kind = \"ipvs-sync\", role = \"master\", interface = \"eth1\", sync_id = 2 } ]\n"
		}, []string{
			`FILE:30:12: group[1].resources[1].kind: a second ipvs-sync resource (the first at FILE:16:12): a host runs one master and one backup IPVS sync daemon (ipvsadm --start-daemon), which one resource drives; keep one, in the group whose owner must send the connection updates`,
		}},
		// The error is at the real's address, as every other real error.
		{"dr real on another port", func(t *testing.T) string {
			s := replace(t, caseBase, "check = {", "method = \"dr\"\ninterface = \"eth0\"\ncheck = {")
			return replace(t, s, `"198.18.1.21:80"`, `"198.18.1.21:8080"`)
		}, []string{
			`FILE:25:23: service[0].reals[0].address: 198.18.1.21:8080: dr forwards frames unchanged, so each real serves the virtual port 80 itself, holds the VIP on a loopback with arp_ignore=1 and arp_announce=2, and sits on the balancer's segment`,
		}},
	})
}

// TestVerbHelp: `hactl VERB --help` asks for the usage, as `hactl --help`
// does: on stdout, exit 0 (it went to stderr with exit 2, the status of a
// wrong command line, so `hactl status --help | less` showed nothing).
func TestVerbHelp(t *testing.T) {
	for _, v := range verbs {
		for _, h := range []string{"-h", "--help"} {
			var stdout, stderr bytes.Buffer
			code := run([]string{v.name, h}, &stdout, &stderr)
			if code != exitOK || !strings.HasPrefix(stdout.String(), "usage: hactl "+v.name) || stderr.Len() != 0 {
				t.Errorf("hactl %s %s = %d, stdout %q, stderr %q; want 0 and the usage on stdout", v.name, h, code, stdout.String(), stderr.String())
			}
		}
	}
}
