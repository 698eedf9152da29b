package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigOneErrorPerCause runs configs where one bad value used to
// bring further errors derived from it (a timer computed from a keepalive
// out of range, references to a node or service whose name is bad): each
// must fail with exit status 1 and only the root error.
func TestCheckConfigOneErrorPerCause(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"keepalive too long, deadtime set", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"1000h\"\ndeadtime = \"2s\"\n"), []string{
			`FILE:4:13: cluster.keepalive: 1000h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries`,
		}},
		{"keepalive too long, warntime set", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"1000h\"\nwarntime = \"2s\"\n"), []string{
			`FILE:4:13: cluster.keepalive: 1000h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries`,
		}},
		// 4×1000000h wraps around: the derived timers (and fail_backoff,
		// no key of the file) are not negative errors of their own.
		{"keepalive so long its derived timers wrap around", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"1000000h\"\n"), []string{
			`FILE:4:13: cluster.keepalive: 1000000h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries`,
		}},
		// Only warntime is written: the error is its own, not the
		// default deadtime's at [cluster].
		{"warntime beyond the default deadtime", edit(caseBase, "id = 7\n", "id = 7\nwarntime = \"1000h\"\n"), []string{
			`FILE:4:12: cluster.warntime: 1000h0m0s must be shorter than deadtime 400ms (unset: 4×keepalive)`,
		}},
		{"bad node name, peers name the old one", edit(caseBase, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb 2"]`), []string{
			`FILE:4:17: cluster.nodes[1]: "lb 2": want 1..64 characters of A-Z a-z 0-9 . _ -`,
		}},
		{"node listed twice, peers name the other", edit(caseBase, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb1"]`), []string{
			`FILE:4:17: cluster.nodes[1]: node "lb1" is listed again (first at FILE:4:10)`,
		}},
		{"one node, peers name the other", edit(caseBase, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1"]`), []string{
			`FILE:4:1: cluster.nodes: want at least 2 nodes, found 1`,
		}},
		{"bad service name, the balancer names the old one", edit(caseBase, `name = "http"`, `name = "ht tp"`), []string{
			`FILE:20:8: service[0].name: "ht tp": want 1..64 characters of A-Z a-z 0-9 . _ -`,
		}},
		// A value that does not read is not replaced by its default
		// in the rules comparing other values with it.
		{"unreadable keepalive, deadtime compared with the default", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"abc\"\ndeadtime = \"150ms\"\n"), []string{
			`FILE:4:13: cluster.keepalive: "abc" is not a duration (want e.g. "250ms", "2s", "5m")`,
		}},
		{"unreadable deadtime, initdead compared with the default", edit(caseBase, "id = 7\n", "id = 7\ndeadtime = \"abc\"\ninitdead = \"1ms\"\n"), []string{
			`FILE:4:12: cluster.deadtime: "abc" is not a duration (want e.g. "250ms", "2s", "5m")`,
		}},
		{"unreadable check interval, timeout compared with the default", edit(caseBase, `check = { type = "connect" }`, `check = { type = "connect", interval = "abc", timeout = "3s" }`), []string{
			`FILE:22:40: service[0].check.interval: "abc" is not a duration (want e.g. "250ms", "2s", "5m")`,
		}},
		{"unreadable monitor interval", edit(caseBase, `check = { type = "connect" }`, `check = { type = "connect" }
backups = [ { address = "198.18.1.31:80" } ]
monitors = [ { script = "/bin/m", interval = "abc", timeout = "9s" } ]`), []string{
			`FILE:24:46: service[0].monitors[0].interval: "abc" is not a duration (want e.g. "250ms", "2s", "5m")`,
		}},
		{"unreadable ping interval", func(t *testing.T) string {
			return caseBase + "\n[[ping]]\naddress = \"198.18.0.1\"\ninterval = \"abc\"\ntimeout = \"1500ms\"\n"
		}, []string{
			`FILE:27:12: ping[0].interval: "abc" is not a duration (want e.g. "250ms", "2s", "5m")`,
		}},
		// A setting written wrong says nothing about which keys it
		// would use: the keys are not called moot on top.
		{"unknown mode, an http key", edit(caseBase, `name = "http"`+"\n", `name = "http"`+"\nmode = \"htttp\"\nrequest_timeout = \"5s\"\n"), []string{
			`FILE:21:8: service[0].mode: "htttp" is not one of l4, http`,
		}},
		{"check port out of range", edit(caseBase, `check = { type = "connect" }`, `check = { type = "connect", port = 70000 }`), []string{
			`FILE:22:36: service[0].check.port: 70000 is out of range 1..65535`,
		}},
		{"check port with an external check", edit(caseBase, `check = { type = "connect" }`, `check = { type = "external", program = "/bin/true", port = 8080 }`), []string{
			`FILE:22:53: service[0].check.port: key "port" is not used by check type "external" (only by connect, negotiate, http, sip, a number N)`,
		}},
		{"HAProxy's mode tcp", edit(caseBase, `name = "http"`+"\n", `name = "http"`+"\nmode = \"tcp\"\n"), []string{
			`FILE:21:8: service[0].mode: "tcp" is not one of l4, http: HAProxy's mode tcp is mode l4 here`,
		}},
		{"HAProxy's balance leastconn", edit(caseBase, `name = "http"`+"\n", `name = "http"`+"\nscheduler = \"leastconn\"\n"), []string{
			`FILE:21:13: service[0].scheduler: "leastconn" is not one of rr, wrr, lc, wlc, sh: HAProxy's balance leastconn is scheduler "wlc" here`,
		}},
		{"HAProxy's balance roundrobin", edit(caseBase, `name = "http"`+"\n", `name = "http"`+"\nscheduler = \"roundrobin\"\n"), []string{
			`FILE:21:13: service[0].scheduler: "roundrobin" is not one of rr, wrr, lc, wlc, sh: HAProxy's balance roundrobin is scheduler "wrr" here`,
		}},
		{"unknown method, a dr key", edit(caseBase, `name = "http"`+"\n", `name = "http"`+"\nmethod = \"drr\"\ninterface = \"eth0\"\n"), []string{
			`FILE:21:10: service[0].method: "drr" is not one of proxy, nat, dr`,
		}},
		{"unknown protocol, a udp key", edit(caseBase, `name = "http"`+"\n", `name = "http"`+"\nprotocol = \"tcpx\"\nmax_flows = 5\n"), []string{
			`FILE:21:12: service[0].protocol: "tcpx" is not one of tcp, udp`,
		}},
	})
}

// TestCheckConfigProtocolText runs configs whose strings would land in a
// protocol line, a program's command line or a file had generates with
// a control character or a space where those forbid it: each must fail
// with exit status 1 naming the key.
func TestCheckConfigProtocolText(t *testing.T) {
	conntrack := func(iface string) string {
		return `  { kind = "conntrack-sync", interface = "` + iface + `", addresses = ["198.18.1.11", "198.18.1.12"], port = 3780 },
  { kind = "balancer"`
	}
	runCheckCases(t, []checkCase{
		{"check host with CR LF", edit(caseBase, `check = { type = "connect" }`, `check = { type = "http", host = "a b\r\nX: y" }`), []string{
			`FILE:22:33: service[0].check.host: "a b\r\nX: y": an HTTP Host header holds no spaces or control characters (a host name or address, optionally :port)`,
		}},
		{"check host with a path", edit(caseBase, `check = { type = "connect" }`, `check = { type = "negotiate", host = "a/b", receive = "ok" }`), []string{
			`FILE:22:38: service[0].check.host: "a/b": want a host name or address, optionally :port, as an HTTP Host header (RFC 9110 section 7.2)`,
		}},
		{"check request with a fragment", edit(caseBase, `check = { type = "connect" }`, `check = { type = "http", request = "/status#top" }`), []string{
			`FILE:22:36: service[0].check.request: "/status#top": an HTTP request holds no fragment (#...): a client keeps it to itself; drop it, or percent-encode a '#' that is part of the path as %23`,
		}},
		{"check program and args", edit(caseBase, `check = { type = "connect" }`, `check = { type = "external", program = "/bin/chk\n", args = ["a", "b\rc"] }`), []string{
			`FILE:22:40: service[0].check.program: "/bin/chk\n" holds a control character: a program's path and arguments take none`,
			`FILE:22:67: service[0].check.args[1]: "b\rc" holds a control character: a program's path and arguments take none`,
		}},
		{"monitor args", edit(caseBase, `check = { type = "connect" }`, `check = { type = "connect" }
backups = [ { address = "198.18.1.31:80" } ]
monitors = [ { script = "/bin/m", args = ["x\n"] } ]`), []string{
			`FILE:24:43: service[0].monitors[0].args[0]: "x\n" holds a control character: a program's path and arguments take none`,
		}},
		{"track args", func(t *testing.T) string {
			return caseBase + "\n[[track]]\nname = \"db\"\nscript = \"/bin/true\"\nargs = [\"ok\", \"x\\u0000\"]\nweight = 50\n"
		}, []string{
			`FILE:28:15: track[0].args[1]: "x\x00" holds a control character: a program's path and arguments take none`,
		}},
		{"notify, state_dir and socket", edit(caseBase, "id = 7\n", "id = 7\nstate_dir = \"/var/lib/ha\\npair\"\nsocket = \"/run/x\\ty.sock\"\nnotify = \"/etc/n\\u0000x\"\n"), []string{
			`FILE:4:13: cluster.state_dir: "/var/lib/ha\npair" holds a control character: a file name here takes none`,
			`FILE:5:10: cluster.socket: "/run/x\ty.sock" holds a control character: a file name here takes none`,
			`FILE:6:10: cluster.notify: "/etc/n\x00x" holds a control character: a program's path and arguments take none`,
		}},
		{"script resource argument", edit(caseBase, `  { kind = "balancer"`, `  { kind = "script", path = "mailq::a\nb" },
  { kind = "balancer"`), []string{
			`FILE:16:29: group[0].resources[1].path: "mailq::a\nb" holds a control character: a program's path and arguments take none`,
		}},
		{"interface with CR", edit(caseBase, `interface = "eth0" }`, `interface = "eth\r0" }`), []string{
			`FILE:15:60: group[0].resources[0].interface: "eth\r0" is not a valid Linux interface name: it holds white space or a control character`,
		}},
		{"vip label with a space", edit(caseBase, `interface = "eth0" }`, `interface = "eth0", label = "eth0:a b" }`), []string{
			`FILE:15:76: group[0].resources[0].label: "eth0:a b" holds white space, a control character or '/': a label is named as an interface is`,
		}},
		// conntrackd.conf names the state directory's files and the
		// interface: what its lexer cannot read is refused at the check,
		// also without host facts (the dry build skips conntrackd then).
		{"conntrackd.conf values", func(t *testing.T) string {
			s := replace(t, caseBase, `  { kind = "balancer"`, conntrack("d0"))
			return replace(t, s, "id = 7\n", "id = 7\nstate_dir = \"/var/lib/ha pair\"\n")
		}, []string{
			`FILE:4:13: cluster.state_dir: "/var/lib/ha pair/conntrackd-web": conntrackd.conf cannot name a path with a space, '"' or control character: the conntrack-sync resource keeps its daemon's files there (FILE:17:12)`,
			`FILE:17:42: group[0].resources[1].interface: "d0": conntrackd.conf reads it as a number or IPv6 part; rename the link`,
		}},
		// conntrackd's and BIRD's control sockets are under the state
		// directory: a path too long for a Unix socket fails them at
		// start.
		{"state_dir too long for conntrackd's socket", func(t *testing.T) string {
			s := replace(t, caseBase, `  { kind = "balancer"`, conntrack("eth1"))
			return replace(t, s, "id = 7\n", "id = 7\nstate_dir = \"/var/lib/"+strings.Repeat("d", 90)+"\"\n")
		}, []string{
			`FILE:4:13: cluster.state_dir: its control socket /var/lib/` + strings.Repeat("d", 90) + `/conntrackd-web/ctl is 118 bytes, longer than the 107 a Unix socket path holds (sun_path, unix(7)): the conntrack-sync resource keeps its daemon's files there (FILE:17:12)`,
		}},
		{"state_dir too long for BIRD's socket", edit(bgpCase, "id = 7\n", "id = 7\nstate_dir = \"/var/lib/"+strings.Repeat("d", 90)+"\"\n"), []string{
			`FILE:4:13: cluster.state_dir: its control socket /var/lib/` + strings.Repeat("d", 90) + `/bird/bird.ctl is 113 bytes, longer than the 107 a Unix socket path holds (sun_path, unix(7)): the bgp resource keeps its daemon's files there (FILE:34:24)`,
		}},
	})
}

// TestCheckConfigNotUnicast runs VIPs, BGP addresses and socket addresses
// that `ip addr add` takes but ARP, NDP, BGP or a socket cannot use:
// each must fail with exit status 1 naming the key and what the address
// is.
func TestCheckConfigNotUnicast(t *testing.T) {
	vipAt := func(prefix, listen string) func(t *testing.T) string {
		return func(t *testing.T) string {
			s := replace(t, caseBase, `address = "198.18.0.100/24"`, `address = "`+prefix+`"`)
			return replace(t, s, `listen = "198.18.0.100:80"`, `listen = "`+listen+`"`)
		}
	}
	runCheckCases(t, []checkCase{
		{"IPv6 unspecified", vipAt("::/64", "[::]:80"), []string{
			`FILE:15:29: group[0].resources[0].address: ::/64 cannot be a virtual address: :: is the unspecified address (any address), which no host is reached at`,
		}},
		{"IPv4 unspecified", vipAt("0.0.0.0/24", "0.0.0.0:80"), []string{
			`FILE:15:29: group[0].resources[0].address: 0.0.0.0/24 cannot be a virtual address: 0.0.0.0 is the unspecified address (any address), which no host is reached at`,
		}},
		{"IPv4 this network", vipAt("0.1.2.3/24", "0.0.0.0:80"), []string{
			`FILE:15:29: group[0].resources[0].address: 0.1.2.3/24 cannot be a virtual address: 0.1.2.3 is in 0.0.0.0/8, "this network" (RFC 1122 section 3.2.1.3), which no host is reached at`,
		}},
		{"IPv4 multicast", vipAt("224.0.0.5/24", "224.0.0.5:80"), []string{
			`FILE:15:29: group[0].resources[0].address: 224.0.0.5/24 cannot be a virtual address: 224.0.0.5 is a multicast group address, which no host holds as its own`,
		}},
		{"IPv6 multicast", vipAt("ff02::5/64", "[ff02::5]:80"), []string{
			`FILE:15:29: group[0].resources[0].address: ff02::5/64 cannot be a virtual address: ff02::5 is a multicast group address, which no host holds as its own`,
		}},
		{"loopback", vipAt("127.0.0.5/8", "127.0.0.5:80"), []string{
			`FILE:15:29: group[0].resources[0].address: 127.0.0.5/8 cannot be a virtual address: 127.0.0.5 is a loopback address, which never leaves its host`,
		}},
		{"IPv4-mapped", vipAt("::ffff:198.18.0.100/120", "0.0.0.0:80"), []string{
			`FILE:15:29: group[0].resources[0].address: ::ffff:198.18.0.100/120 cannot be a virtual address: ::ffff:198.18.0.100 is an IPv4-mapped IPv6 address; write the IPv4 address 198.18.0.100`,
		}},
		{"IPv6 Subnet-Router anycast", vipAt("2001:db8::/64", "[2001:db8::]:80"), []string{
			`FILE:15:29: group[0].resources[0].address: 2001:db8::/64 cannot be a virtual address: it is the Subnet-Router anycast address of 2001:db8::/64 (RFC 4291 section 2.6.1), which the routers on the link answer; pick a host address, or write the prefix of the subnet it belongs to`,
		}},
		// A link-local VIP is keepalived's IPv6 VRRP habit and is
		// announced by NDP; a socket cannot bind or reach one, though.
		{"listen on an IPv6 link-local VIP", vipAt("fe80::5/64", "[fe80::5]:80"), []string{
			`FILE:21:10: service[0].listen: fe80::5 is an IPv6 link-local address, which a socket cannot use without naming its interface; use a global or unique local address`,
		}},
		{"real on IPv6 link-local", edit(caseBase, `198.18.1.21:80`, `[fe80::21]:80`), []string{
			`FILE:23:23: service[0].reals[0].address: fe80::21 is an IPv6 link-local address, which a socket cannot use without naming its interface; use a global or unique local address`,
		}},
		{"ping nodes", func(t *testing.T) string {
			return caseBase + "\n[[ping]]\naddress = \"255.255.255.255\"\n\n[[ping]]\naddress = \"0.1.2.3\"\n\n[[ping]]\naddress = \"fe80::1\"\n\n[[ping]]\naddress = \"fe80::2%eth0\"\n"
		}, []string{
			`FILE:26:11: ping[0].address: 255.255.255.255 cannot answer an ICMP echo: 255.255.255.255 is the limited broadcast address; want a unicast address (e.g. the gateway)`,
			`FILE:29:11: ping[1].address: 0.1.2.3 cannot answer an ICMP echo: 0.1.2.3 is in 0.0.0.0/8, "this network" (RFC 1122 section 3.2.1.3), which no host is reached at; want a unicast address (e.g. the gateway)`,
			`FILE:32:11: ping[2].address: fe80::1 is an IPv6 link-local address: name the interface it is on, as fe80::1%eth0, or no echo can be sent`,
		}},
		{"heartbeat peer", edit(caseBase, `lb2 = "198.18.1.12"`, `lb2 = "255.255.255.255"`), []string{
			`FILE:9:38: link[0].peers.lb2: 255.255.255.255 cannot be a node's heartbeat address: 255.255.255.255 is the limited broadcast address`,
		}},
		{"conntrack-sync address", edit(caseBase, `  { kind = "balancer"`, `  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.31", "224.0.0.9"] },
  { kind = "balancer"`), []string{
			`FILE:16:78: group[0].resources[1].addresses[1]: 224.0.0.9 cannot be a node's conntrack-sync address: 224.0.0.9 is a multicast group address, which no host holds as its own`,
		}},
		// A node's BGP address that is no unicast address is left out,
		// so the neighbours are not also called outside its network.
		{"bgp node addresses and neighbours", func(t *testing.T) string {
			s := replace(t, bgpCase, `nodes = { lb1 = "198.18.0.11/24", lb2 = "198.18.0.12/24" }`, `nodes = { lb1 = "127.0.0.1/8", lb2 = "198.18.0.12/24" }`)
			return replace(t, s, `neighbors = [ { address = "198.18.0.1", asn = 65000 } ]`, `neighbors = [ { address = "198.18.0.1", asn = 65000 }, { address = "255.255.255.255", asn = 65000 }, { address = "fe80::1", asn = 65000 } ]`)
		}, []string{
			`FILE:27:17: bgp.nodes.lb1: 127.0.0.1 cannot be node lb1's BGP address: 127.0.0.1 is a loopback address, which never leaves its host`,
			`FILE:28:68: bgp.neighbors[1].address: 255.255.255.255 cannot be a BGP neighbour: 255.255.255.255 is the limited broadcast address`,
			`FILE:28:114: bgp.neighbors[2].address: fe80::1 is an IPv6 link-local address: BIRD reaches one only through a named interface, which the generated config does not give; use the router's global address`,
		}},
		{"bgp addresses", edit(bgpCase, `addresses = ["198.18.2.100"]`, `addresses = ["198.18.2.100", "::ffff:198.18.2.1", "fe80::1", "0.0.0.7", "ff05::2"]`), []string{
			`FILE:33:60: group[1].resources[0].addresses[1]: ::ffff:198.18.2.1 cannot be announced: ::ffff:198.18.2.1 is an IPv4-mapped IPv6 address; write the IPv4 address 198.18.2.1`,
			`FILE:33:81: group[1].resources[0].addresses[2]: fe80::1 cannot be announced by BGP: it is a link-local address, which routers do not forward`,
			`FILE:33:92: group[1].resources[0].addresses[3]: 0.0.0.7 cannot be announced: 0.0.0.7 is in 0.0.0.0/8, "this network" (RFC 1122 section 3.2.1.3), which no host is reached at`,
			`FILE:33:103: group[1].resources[0].addresses[4]: ff05::2 cannot be announced: ff05::2 is a multicast group address, which no host holds as its own`,
		}},
	})
}

// TestCheckConfigNodeCase: had finds its node ignoring case, as
// Heartbeat does, so two nodes differing only in case are one host.
func TestCheckConfigNodeCase(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"nodes differing only in case", edit(caseBase, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "LB1"]`), []string{
			`FILE:4:17: cluster.nodes[1]: node "LB1" differs from "lb1" only in case: node names match host names ignoring case, as Heartbeat's do (first at FILE:4:10)`,
		}},
	})
}

// TestMessagesWithoutPackageNames: what hactl prints when it cannot read
// a file or reach had reads as a sentence naming the file, without Go
// package names ("config: ", "ctl: ", "importer: ") or system call names.
func TestMessagesWithoutPackageNames(t *testing.T) {
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "had.sock")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check-config", "--no-host", missing}, exitFail, "hactl: check-config: cannot read " + missing + ": no such file or directory\n"},
		{[]string{"status", "-c", missing}, exitUsage, "hactl: status: cannot read " + missing + ": no such file or directory\n"},
		{[]string{"status", "-s", notSocket}, exitUsage, "hactl: cannot reach had at " + notSocket + ": " + notSocket + " is not a socket (mode -rw-------): wrong -s, -c or cluster.socket?\n"},
		{[]string{"import", "heartbeat", missing}, exitUsage, "hactl: import: cannot read " + missing + "/ha.cf: no such file or directory\n"},
		{[]string{"import", "ipvsadm", missing}, exitUsage, "hactl: import: cannot read " + missing + ": no such file or directory\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != tt.code || stderr.String() != tt.want {
			t.Errorf("hactl %q = %d, stderr %q; want %d, %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}

// TestCheckConfigSameLink: a link written twice adds no heartbeat path
// (Heartbeat users write `bcast eth1` twice by accident; hactl import
// keeps one): one error at the second copy, not one per address it
// would fail to bind.
func TestCheckConfigSameLink(t *testing.T) {
	ucast := "\n[[link]]\nkind = \"ucast\"\npeers = { lb1 = \"198.18.1.11\", lb2 = \"198.18.1.12\" }\n"
	mcast := "\n[[link]]\nkind = \"mcast\"\ninterface = \"eth0\"\ngroup = \"239.255.0.94\"\n"
	runCheckCases(t, []checkCase{
		{"ucast twice", edit(caseBase, "\n[[group]]", ucast+"\n[[group]]"), []string{
			`FILE:11:3: link[1]: the same heartbeat link as link[0] (FILE:7:3): ucast to the same peers, port 694; a second copy adds no path, it only sends every heartbeat twice: remove it`,
		}},
		{"mcast twice", edit(caseBase, "\n[[group]]", mcast+mcast+"\n[[group]]"), []string{
			`FILE:16:3: link[2]: the same heartbeat link as link[1] (FILE:11:3): mcast on eth0, group 239.255.0.94, port 694; a second copy adds no path, it only sends every heartbeat twice: remove it`,
		}},
	})
}
