package importer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hapair/hapair/ha"
)

const (
	baseHACF = "node lb1 lb2\nmcast eth0 239.255.0.94 694 1 0\n"
	baseHR   = "lb1 198.18.0.10/24/eth0\n"
	baseAK   = "auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n"
)

// heartbeatCase runs one Heartbeat import of files laid over a minimal,
// valid directory (two nodes, one mcast link, one VIP, a sha256 key).
func heartbeatCase(t *testing.T, files map[string]string, w want) {
	t.Helper()
	all := map[string]string{"ha.cf": baseHACF, "haresources": baseHR, "authkeys": baseAK}
	for k, v := range files {
		all[k] = v
	}
	for k, v := range all {
		if v == "" {
			delete(all, k)
		}
	}
	// The directory stands for /etc/ha.d, so ../init.d is /etc/init.d.
	named := map[string]string{}
	for k, v := range all {
		named["ha.d/"+k] = v
	}
	dir := filepath.Join(writeDir(t, named), "ha.d")
	res, err := Heartbeat(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.check(t, res)
	again, err := Heartbeat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.TOML, res.TOML) || !slices.Equal(again.Warnings, res.Warnings) {
		t.Errorf("two imports of the same directory differ:\n%s%v\n---\n%s%v", res.TOML, res.Warnings, again.TOML, again.Warnings)
	}
}

func TestHACF(t *testing.T) {
	tests := []struct {
		name  string
		hacf  string
		want  want
		files map[string]string
	}{
		{name: "timers in seconds, milliseconds and microseconds", hacf: baseHACF + "keepalive 500ms\nwarntime 1\ndeadtime 2s\ninitdead 10sec\n",
			want: want{complete: true, toml: []string{`keepalive = "500ms"`, `warntime = "1s"`, `deadtime = "2s"`, `initdead = "10s"`}}},
		{name: "fractional seconds and usec", hacf: baseHACF + "keepalive 0.25\ndeadtime 1500000usec\n",
			want: want{complete: true, toml: []string{`keepalive = "250ms"`, `deadtime = "1500ms"`}}},
		{name: "timers in an order hapair refuses are repaired", hacf: baseHACF + "keepalive 2\ndeadtime 3\nwarntime 10\ninitdead 1\n",
			want: want{complete: true, toml: []string{`deadtime = "6s"`, `warntime = "4s"`, `initdead = "6s"`},
				warns: []string{
					"ha.cf:4: deadtime 3s must be longer than 2×keepalive (4s): at 2×keepalive or less a single lost heartbeat declares the peer dead; deadtime 6s used: 3×keepalive, the shortest that rides out one lost heartbeat",
					"ha.cf:5: deadtime 6s must be longer than warntime 10s; warntime 4s used: halfway between keepalive and deadtime",
					"ha.cf:6: initdead 1s is shorter than deadtime 6s: a starting node would take groups before it could hear its peers; initdead 6s used: deadtime, the least a starting node must wait for its peers"}}},
		{name: "deadtime exactly 2×keepalive is repaired", hacf: baseHACF + "keepalive 500ms\ndeadtime 1\n",
			want: want{complete: true, toml: []string{`keepalive = "500ms"`, `deadtime = "1500ms"`},
				warns: []string{"ha.cf:4: deadtime 1s must be longer than 2×keepalive (1s): at 2×keepalive or less a single lost heartbeat declares the peer dead; deadtime 1.5s used: 3×keepalive, the shortest that rides out one lost heartbeat"}}},
		{name: "bad timer value", hacf: baseHACF + "keepalive fast\nkeepalive 1\n",
			want: want{complete: true, toml: []string{`keepalive = "1s"`}, warns: []string{`ha.cf:3: keepalive "fast" is not a time`, "ha.cf:4: keepalive set again"}}},
		{name: "auto_failback on", hacf: baseHACF + "auto_failback on\n", want: want{complete: true, toml: []string{"auto_failback = true"}}},
		{name: "auto_failback off", hacf: baseHACF + "auto_failback off\n", want: want{complete: true, toml: []string{"auto_failback = false"}}},
		{name: "auto_failback legacy", hacf: baseHACF + "auto_failback legacy\n",
			want: want{complete: true, toml: []string{"auto_failback = true"}, warns: []string{"ha.cf:3: auto_failback legacy: mapped to true"}}},
		{name: "auto_failback nonsense", hacf: baseHACF + "auto_failback maybe\n",
			want: want{complete: true, notTOML: []string{"auto_failback ="}, warns: []string{`auto_failback "maybe"`}}},
		{name: "nice_failback on is auto_failback off", hacf: baseHACF + "nice_failback on\n", want: want{complete: true, toml: []string{"auto_failback = false"}}},
		{name: "bcast on two interfaces", hacf: "node lb1 lb2\nbcast eth0 eth1\n",
			want: want{complete: true, toml: []string{"kind = \"mcast\"\ninterface = \"eth0\"\ngroup = \"239.255.0.94\"", "interface = \"eth1\"\ngroup = \"239.255.0.94\""},
				warns: []string{"ha.cf:2: bcast eth0 eth1: hapair has no broadcast links"}}},
		{name: "mcast with ttl and loop", hacf: "node lb1 lb2\nmcast eth0 225.0.0.1 694 3 1\n",
			want: want{complete: true, toml: []string{`group = "225.0.0.1"`, "port = 694"}, warns: []string{"ha.cf:2: mcast ttl 3", "ha.cf:2: mcast loop 1"}}},
		{name: "mcast6", hacf: "node lb1 lb2\nmcast6 eth0 ff02::1:94 694 1 0\nbcast eth1\n",
			want: want{notTOML: []string{"ff02::1:94"}, warns: []string{"ha.cf:2: not converted: mcast6 eth0 ff02::1:94 694 1 0: hapair's heartbeat links are IPv4 only"}}},
		{name: "mcast with a unicast group", hacf: "node lb1 lb2\nmcast eth0 198.18.0.1 694 1 0\nbcast eth1\n",
			want: want{warns: []string{`ha.cf:2: not converted: mcast group "198.18.0.1"`}}},
		{name: "ucast for every node", hacf: "node lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n",
			want: want{complete: true, toml: []string{`kind = "ucast"`, `peers = { "lb1" = "198.18.1.1", "lb2" = "198.18.1.2" }`},
				warns: []string{"ha.cf:2: ucast eth1: Heartbeat's ucast lines name addresses, not nodes; assigned in order (lb1=198.18.1.1, lb2=198.18.1.2)"}}},
		{name: "ucast naming only the peer (one node's ha.cf)", hacf: "node lb1 lb2\nucast eth1 198.18.1.2\n",
			want: want{toml: []string{`peers = { "lb1" = "198.18.1.2", "lb2" = "192.0.2.1" }`, "PLACEHOLDER: no ucast address for lb2"},
				warns: []string{"ha.cf:2: not converted: ucast eth1: no address for node lb2"}}},
		{name: "ucast on TEST-NET-1: placeholders skip the source's addresses", hacf: "node lb1 lb2\nucast eth1 192.0.2.1\n", files: map[string]string{"haresources": "lb1 192.0.2.2/24/eth0\n"},
			want: want{toml: []string{`peers = { "lb1" = "192.0.2.1", "lb2" = "192.0.2.3" }`, `address = "192.0.2.2/24"`}, warns: []string{"ha.cf:2: not converted: ucast eth1: no address for node lb2"}}},
		{name: "more nodes than hapair's MaxNodes", hacf: "node lb1 " + nodeNames(2, 35) + "\nbcast eth0\n", files: map[string]string{"haresources": "lb1 198.18.0.10/24/eth0\nn99 198.18.0.11/24/eth0\n"},
			want: want{toml: []string{`"n33"]`, `address = "198.18.0.10/24"`}, notTOML: []string{`"n34"`, "198.18.0.11"},
				warns: []string{"ha.cf:1: not converted: node n34: hapair clusters have at most 33 nodes", "ha.cf:1: not converted: node n35: hapair clusters", "haresources:2: not converted: node n99 is not a node line in ha.cf (nodes lb1, n2, n3,"}}},
		{name: "ucast links beyond the documentation ranges' placeholders", hacf: "node lb1 " + nodeNames(2, 33) + "\n" + ucastLines(25),
			want: want{toml: []string{`interface = "eth23"`, `"n33" = "203.0.113.228"`}, notTOML: []string{`interface = "eth24"`, `interface = "eth25"`},
				warns: []string{"ha.cf:25: not converted: ucast eth24: no address for node n2,", "too few documentation-range (RFC 5737) placeholders are left for them; link not imported", "ha.cf:26: not converted: ucast eth25"}}},
		{name: "ping nodes on every TEST-NET-1 address, no group: the placeholder VIP is from TEST-NET-2", hacf: baseHACF + "ping " + testNet1() + "\n", files: map[string]string{"haresources": "lb1 bogus::x\n"},
			want: want{toml: []string{`address = "192.0.2.254"`, `address = "198.51.100.1/32"`}, warns: []string{"not converted: no resource group could be imported"}}},
		{name: "ucast over IPv6", hacf: "node lb1 lb2\nucast eth1 2001:db8::1\nucast eth1 2001:db8::2\nbcast eth0\n",
			want: want{warns: []string{"ha.cf:2: not converted: ucast eth1 2001:db8::1: hapair's heartbeat links are IPv4 only"}}},
		{name: "ucast with a host name", hacf: "node lb1 lb2\nucast eth1 lb2.example\nbcast eth0\n",
			want: want{warns: []string{`ha.cf:2: not converted: ucast peer "lb2.example" is not a unicast IP address`}}},
		{name: "ucast to a broadcast or multicast address", hacf: "node lb1 lb2\nucast eth1 255.255.255.255\nucast eth1 224.0.0.9\nbcast eth0\n",
			want: want{warns: []string{"ha.cf:2: not converted: ucast peer 255.255.255.255: 255.255.255.255 is the limited broadcast address",
				"ha.cf:3: not converted: ucast peer 224.0.0.9: 224.0.0.9 is a multicast group address, which no host holds as its own"}}},
		{name: "udpport after a link keeps the earlier link on 694", hacf: "node lb1 lb2\nbcast eth0\nudpport 695\nbcast eth1\n",
			want: want{complete: true, toml: []string{"port = 695", "interface = \"eth0\"\ngroup = \"239.255.0.94\"\nport = 694"}}},
		{name: "udpport out of range", hacf: baseHACF + "udpport 70000\n", want: want{complete: true, warns: []string{`ha.cf:3: udpport "70000" is not a port`}}},
		{name: "ping nodes, ping_group and ipfail", hacf: baseHACF + "ping 198.18.0.1 198.18.0.2\nping_group gw 198.18.0.3 198.18.0.4\nrespawn hacluster /usr/lib/heartbeat/ipfail\napiauth ipfail gid=haclient uid=hacluster\n",
			want: want{complete: true, toml: []string{`address = "198.18.0.1"`, `address = "198.18.0.4"`, "ipfail (", "member of Heartbeat ping_group gw"},
				warns: []string{"ha.cf:4: ping_group gw: hapair has no ping group", "ha.cf:6: apiauth: not carried over"}}},
		{name: "ipfail without ping nodes", hacf: baseHACF + "respawn hacluster /usr/lib64/heartbeat/ipfail\n",
			want: want{complete: true, warns: []string{"ha.cf:3: ipfail without ping nodes decides nothing"}}},
		{name: "respawn of another program", hacf: baseHACF + "respawn root /usr/local/bin/watcher\n",
			want: want{complete: true, warns: []string{"ha.cf:3: respawn root /usr/local/bin/watcher: not carried over"}}},
		{name: "ping with a host name", hacf: baseHACF + "ping router\n", want: want{complete: true, warns: []string{`ping node "router" is not an IP address`}}},
		{name: "directives not carried over, comments, tabs and odd spacing",
			hacf: "# ha.cf\n\tdebugfile /var/log/ha-debug\nlogfile\t/var/log/ha-log   # trailing comment\nlogfacility     local0\nuse_logd yes\n" +
				"serial /dev/ttyS0\nbaud 19200\nstonith_host * null lb1\nwatchdog /dev/watchdog\ncrm on\nautojoin any\ndeadping 30\n" +
				"compression bz2\nconn_logd_time 60\nfrobnicate yes\n   node   lb1\t lb2  \n  mcast eth0 239.255.0.94 694 1 0\n",
			files: map[string]string{"haresources": ""},
			want: want{toml: []string{`nodes = ["lb1", "lb2"]`},
				warns: []string{"not converted: no resource group could be imported", "ha.cf:2: debugfile: not carried over", "ha.cf:3: logfile: not carried over", "ha.cf:4: logfacility", "ha.cf:5: use_logd",
					"ha.cf:6: serial: not carried over", "ha.cf:7: baud", "ha.cf:8: stonith_host: not carried over: hapair has no STONITH",
					"ha.cf:9: watchdog", "ha.cf:10: crm on: a CRM/Pacemaker configuration (the CIB) is not read", "ha.cf:11: autojoin",
					"ha.cf:12: deadping", "ha.cf:13: compression", "ha.cf:14: conn_logd_time", `ha.cf:15: unknown ha.cf directive "frobnicate"`}}},
		{name: "crm off is fine", hacf: baseHACF + "crm off\n", want: want{complete: true}},
		{name: "node names: repeated, several per line, invalid", hacf: "node lb1\nnode lb2 lb1\nnode bad/name\nbcast eth0\n",
			want: want{toml: []string{`nodes = ["lb1", "lb2"]`}, warns: []string{"ha.cf:2: node lb1 listed again", `ha.cf:3: not converted: node "bad/name"`}}},
		{name: "no link at all", hacf: "node lb1 lb2\n",
			want: want{toml: []string{"PLACEHOLDER heartbeat link"}, warns: []string{"not converted: no heartbeat link"}}},
		{name: "heartbeat ports that leave a persistent service's sync no port move (udpport 65535; links one apart), the same port stays shared",
			hacf: "node lb1 lb2\nmcast eth0 239.255.0.94 694 1 0\nmcast eth1 239.255.0.95 695 1 0\nmcast eth2 239.255.0.96 695 1 0\nudpport 65535\nucast eth3 198.18.3.1\nucast eth3 198.18.3.2\nucast eth4 198.18.4.1\nucast eth4 198.18.4.2\n",
			files: map[string]string{"haresources": "lb1 198.18.0.20/24/eth0 ldirectord\n",
				"ldirectord.cf": "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 masq\n\tchecktype=connect\n\tpersistent=300\n"},
			want: want{complete: true, toml: []string{"interface = \"eth0\"\ngroup = \"239.255.0.94\"\nport = 694\n", "interface = \"eth1\"\ngroup = \"239.255.0.95\"\nport = 696\n",
				"interface = \"eth2\"\ngroup = \"239.255.0.96\"\nport = 696\n", "interface = \"eth3\"\nport = 698\n", "interface = \"eth4\"\nport = 698\n"},
				warns: []string{"ha.cf:3: heartbeat port 695: hapair's persistence sync takes the heartbeat port + 1 (a service has persistent or method dr), and the link at ",
					"ha.cf:2, on port 694, has its sync on 695; port 696 used (the same on both nodes: open 696 and 697 in the firewall)",
					"ha.cf:4: heartbeat port 695: moved to 696 with the link before it on that port", "ha.cf:6: heartbeat port 65535: hapair's persistence sync takes the heartbeat port + 1 (a service has persistent or method dr), and 65535 has none; port 698 used"}}},
		{name: "without a persistent or dr service the heartbeat ports stay", hacf: "udpport 65535\nnode lb1 lb2\nmcast eth0 239.255.0.94 694 1 0\nmcast eth1 239.255.0.95 695 1 0\n",
			want: want{complete: true, toml: []string{"port = 65535", "port = 694\n", "port = 695\n"}}},
		{name: "a single node", hacf: "node lb1\nbcast eth0\n",
			want: want{toml: []string{`nodes = ["lb1", "node2"]`}, warns: []string{"not converted: hapair needs at least two nodes"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"ha.cf": tc.hacf}
			for k, v := range tc.files {
				files[k] = v
			}
			if tc.name == "directives not carried over, comments, tabs and odd spacing" {
				files["haresources"] = "" // crm on: Heartbeat ignores haresources
			}
			heartbeatCase(t, files, tc.want)
		})
	}
}

func TestHaresources(t *testing.T) {
	const ld = "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 masq 2\n\tservice=http\n\trequest=\"/\"\n\treceive=\"ok\"\n"
	tests := []struct {
		name  string
		files map[string]string
		want  want
	}{
		{name: "IPaddr forms", files: map[string]string{"haresources": "# groups\nlb1 198.18.0.10\t198.18.0.11/24 IPaddr::198.18.0.12/255.255.255.0/eth0 \\\n" +
			"   IPaddr2::198.18.0.13/25/eth0/198.18.0.127 IPaddr2::198.18.0.14/24/eth0:web IPaddr::198.18.0.15/24/eth1/198.18.0.99\n"},
			want: want{complete: true, toml: []string{`{ kind = "vip", address = "198.18.0.10/32" }`, `address = "198.18.0.11/24"`,
				`{ kind = "vip", address = "198.18.0.12/24", interface = "eth0" }`, `address = "198.18.0.13/25", interface = "eth0" }`,
				`address = "198.18.0.14/24", interface = "eth0", label = "eth0:web"`, `name = "vip-198.18.0.10"`, `haresources:2`},
				warns: []string{"haresources:2: IPaddr::198.18.0.10: no netmask", "haresources:2: IPaddr::198.18.0.15/24/eth1/198.18.0.99: broadcast 198.18.0.99 is not carried over"}}},
		{name: "IPv6addr", files: map[string]string{"haresources": "lb1 IPv6addr::2001:db8::10/64/eth0\n"},
			want: want{complete: true, toml: []string{`address = "2001:db8::10/64", interface = "eth0"`}}},
		{name: "bad netmask and address", files: map[string]string{"haresources": "lb1 IPaddr::198.18.0.10/255.0.255.0 IPaddr2::nowhere/24 198.18.0.11/24\n"},
			want: want{warns: []string{`haresources:1: not converted: IPaddr::198.18.0.10/255.0.255.0: "255.0.255.0" is neither`, `not converted: IPaddr2::nowhere/24: "nowhere" is not an IP address`}}},
		{name: "script resources with arguments", files: map[string]string{"haresources": "lb1 198.18.0.10/24 drbddisk::r0 Filesystem::/dev/drbd0::/data::ext3 httpd\n",
			"resource.d/drbddisk": "#!/bin/sh\n", "resource.d/Filesystem": "#!/bin/sh\n", "../init.d/httpd": "#!/bin/sh\n"},
			want: want{complete: true, toml: []string{`/ha.d/resource.d/drbddisk::r0" }`, `/ha.d/resource.d/Filesystem::/dev/drbd0::/data::ext3" }`, `/init.d/httpd" }`},
				warns: []string{"haresources:1: httpd: imported as a script resource running /", "copy the script to /etc/hapair/resource.d"}}},
		{name: "a script that is not there", files: map[string]string{"haresources": "lb1 198.18.0.10/24 MailTo::root@example.com\n"},
			want: want{warns: []string{"haresources:1: not converted: MailTo::root@example.com: no executable script MailTo"}}},
		{name: "two groups and a node not in ha.cf: Heartbeat refuses that line", files: map[string]string{"haresources": "lb1 198.18.0.10/24\nlb2 198.18.0.20/24\nlb3 198.18.0.30/24\n"},
			want: want{toml: []string{`nodes = ["lb1", "lb2"]`, `preferred = "lb2"`}, notTOML: []string{`"lb3"`, "198.18.0.30"},
				warns: []string{"haresources:3: not converted: node lb3 is not a node line in ha.cf (nodes lb1, lb2); group not imported"}}},
		{name: "the same VIP in two groups", files: map[string]string{"haresources": "lb1 198.18.0.10/24 httpd\nlb2 198.18.0.10/24 squid\n",
			"../init.d/httpd": "#!/bin/sh\n", "../init.d/squid": "#!/bin/sh\n"},
			want: want{complete: true, warns: []string{"haresources:2: VIP 198.18.0.10 is already a resource at"}}},
		{name: "LVSSyncDaemonSwap and ldirectord", files: map[string]string{"haresources": "lb1 LVSSyncDaemonSwap::master ldirectord::ldirectord.cf 198.18.0.20/24/eth0\n", "ldirectord.cf": ld},
			want: want{complete: true, toml: []string{`{ kind = "balancer", services = ["http-80"] }`,
				`listen = "198.18.0.20:80"`}, notTOML: []string{`address = "198.18.0.20/32"`, `"ipvs-sync"`},
				warns: []string{"haresources:1: LVSSyncDaemonSwap::master: not carried over: the group's nat/dr services keep their connections in conntrack"}}},
		{name: "gate with the VIP's interface is kernel dr; LVSSyncDaemonSwap gets conntrack-sync over a complete ucast link",
			files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n", "haresources": "lb1 LVSSyncDaemonSwap::master ldirectord 198.18.0.20/24/eth0\n",
				"ldirectord.cf": "virtual=198.18.0.20:80\n\treal=198.18.0.31:80 gate\n\treal=198.18.0.32:80 gate\n\tchecktype=connect\n\tscheduler=sh\n"},
			want: want{complete: true, toml: []string{"method = \"dr\"\ninterface = \"eth0\"", "arp_ignore=1",
				`{ kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.1", "198.18.1.2"] },`}, notTOML: []string{`"ipvs-sync"`}}},
		{name: "conntrack-sync moves off a heartbeat port (udpport 3780)",
			files: map[string]string{"ha.cf": "udpport 3780\nnode lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n", "haresources": "lb1 LVSSyncDaemonSwap::master ldirectord 198.18.0.20/24/eth0\n",
				"ldirectord.cf": "virtual=198.18.0.20:80\n\treal=198.18.1.5:80 masq\n\tchecktype=connect\n"},
			want: want{complete: true, toml: []string{`{ kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.1", "198.18.1.2"], port = 3781 },`},
				warns: []string{"haresources:1: conntrack-sync: port 3780, conntrackd's customary one, is taken by the heartbeat link at ", "ha.cf:3; port 3781 used"}}},
		{name: "two groups with LVSSyncDaemonSwap get conntrack-sync on two ports",
			files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n",
				"haresources": "lb1 LVSSyncDaemonSwap::master ldirectord::a.cf 198.18.0.20/24/eth0\nlb2 LVSSyncDaemonSwap::master ldirectord::b.cf 198.18.0.21/24/eth0\n",
				"a.cf":        "virtual=198.18.0.20:80\n\treal=198.18.1.5:80 masq\n\tchecktype=connect\n",
				"b.cf":        "virtual=198.18.0.21:80\n\treal=198.18.1.5:80 masq\n\tchecktype=connect\n"},
			want: want{complete: true, toml: []string{`addresses = ["198.18.1.1", "198.18.1.2"] },`, `addresses = ["198.18.1.1", "198.18.1.2"], port = 3781 },`},
				warns: []string{"haresources:2: conntrack-sync: port 3780, conntrackd's customary one, is taken by the conntrack-sync at ", "haresources:1; port 3781 used"}}},
		{name: "conntrack-sync moves off a persistence sync port (udpport 3779)",
			files: map[string]string{"ha.cf": "udpport 3779\nnode lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n", "haresources": "lb1 LVSSyncDaemonSwap::master ldirectord 198.18.0.20/24/eth0\n",
				"ldirectord.cf": "virtual=198.18.0.20:80\n\treal=198.18.1.5:80 masq\n\tchecktype=connect\n\tpersistent=60\n"},
			want: want{complete: true, toml: []string{`addresses = ["198.18.1.1", "198.18.1.2"], port = 3781 },`},
				warns: []string{"conntrack-sync: port 3780, conntrackd's customary one, is taken by the persistence sync of the heartbeat link at ", "ha.cf:3 (its port + 1); port 3781 used"}}},
		{name: "a heartbeat link moves off the port a udp service binds (0.0.0.0:694 over a ucast link; a persistent one on the sync port)",
			files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\nmcast eth0 239.255.0.94 700 1 0\n", "haresources": "lb1 198.18.0.20/24/eth0 ldirectord\n",
				"ldirectord.cf": "virtual=0.0.0.0:694\n\tprotocol=udp\n\treal=198.18.1.5:694\n\tchecktype=off\nvirtual=0.0.0.0:701\n\tprotocol=udp\n\treal=198.18.1.5:701\n\tchecktype=off\n\tpersistent=60\n"},
			want: want{complete: true, toml: []string{"kind = \"ucast\"\ninterface = \"eth1\"\nport = 698\n", "group = \"239.255.0.94\"\nport = 696\n", `listen = "0.0.0.0:694"`, `listen = "0.0.0.0:701"`},
				warns: []string{"ha.cf:2: heartbeat port 694: udp service udp-694 (", "ldirectord.cf:1) listens on 0.0.0.0:694, where the link binds its heartbeat; port 698 used",
					"ha.cf:4: heartbeat port 700: udp service udp-701 (", "ldirectord.cf:5) listens on 0.0.0.0:701, where the link binds its persistence sync (a service has persistent or method dr); port 696 used"}}},
		{name: "dr with a fallback on another port stays in userspace", files: map[string]string{"haresources": "lb1 ldirectord 198.18.0.20/24/eth0\n",
			"ldirectord.cf": "virtual=198.18.0.20:80\n\treal=198.18.0.31:80 gate\n\tfallback=198.18.0.99:8080 gate\n\tchecktype=connect\n\tscheduler=rr\n"},
			want: want{complete: true, toml: []string{`fallback = "198.18.0.99:8080"`}, notTOML: []string{"method ="}, warns: []string{`ldirectord.cf:2: gate: not forwarded by hapair's kernel "dr" method: dr forwards frames unchanged, so every real and the fallback must serve the virtual port`}}},
		{name: "dr with reals on another port stays in userspace", files: map[string]string{"haresources": "lb1 ldirectord 198.18.0.20/24/eth0\n",
			"ldirectord.cf": "virtual=198.18.0.20:80\n\treal=198.18.0.31:8080 gate\n\tchecktype=connect\n\tscheduler=rr\n"},
			want: want{complete: true, notTOML: []string{"method ="}, warns: []string{`ldirectord.cf:2: gate: not forwarded by hapair's kernel "dr" method: dr forwards frames unchanged, so every real and the fallback must serve the virtual port`}}},
		{name: "ldirectord with the default file name, in conf/", files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord\n", "conf/ldirectord.cf": ld},
			want: want{complete: true, toml: []string{`services = ["http-80"]`}}},
		{name: "ldirectord with an absolute /etc/ha.d path", files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord::/etc/ha.d/web.cf\n", "web.cf": ld},
			want: want{complete: true, toml: []string{`services = ["http-80"]`}}},
		{name: "ldirectord file missing", files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord::nope.cf\n"},
			want: want{warns: []string{"haresources:1: not converted: ldirectord::nope.cf: cannot read"}}},
		{name: "ldirectord file named twice", files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord\nlb2 198.18.0.21/24 ldirectord\n", "ldirectord.cf": ld},
			want: want{warns: []string{"haresources:2: not converted: ldirectord::ldirectord.cf already imported"}}},
		{name: "virtual address not among the group's addresses", files: map[string]string{"haresources": "lb1 ldirectord 198.18.0.154/25/eth0\n", "ldirectord.cf": ld},
			want: want{complete: true, toml: []string{`{ kind = "vip", address = "198.18.0.20/32" }`}, warns: []string{"virtual address 198.18.0.20 of service http-80 is not an address resource of its group"}}},
		{name: "a line with a node only", files: map[string]string{"haresources": "lb1\nlb1 198.18.0.10/24\n"},
			want: want{warns: []string{"haresources:1: not converted: lb1 has no resources"}}},
		{name: "a VIP that is a ucast heartbeat address is refused, naming both lines", files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n",
			"haresources": "lb1 198.18.0.10/24 198.18.1.2/24\n"},
			want: want{toml: []string{`address = "198.18.0.10/24"`}, notTOML: []string{`address = "198.18.1.2/24"`},
				warns: []string{"haresources:1: not converted: VIP 198.18.1.2 is node lb2's ucast heartbeat address on eth1 (", "ha.d/ha.cf:3): the group's owner"}}},
		{name: "a service on a ucast heartbeat address is refused", files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1 198.18.1.2\n",
			"haresources": "lb1 198.18.0.20/24 ldirectord\n", "ldirectord.cf": ld + "virtual=198.18.1.1:80\n\treal=198.18.0.31:80 masq\n"},
			want: want{toml: []string{`services = ["http-80"]`}, notTOML: []string{`198.18.1.1/32`},
				warns: []string{"ldirectord.cf:6: not converted: virtual service 198.18.1.1:80 listens on 198.18.1.1, which is node lb1's ucast heartbeat address on eth1 (", "ha.d/ha.cf:2): hapair would"}}},
		{name: "interface names no Linux interface can have", files: map[string]string{"ha.cf": baseHACF + "ucast eth1/x 198.18.1.1 198.18.1.2\n",
			"haresources": "lb1 198.18.0.10/24/averyveryverylongifname0\n"},
			want: want{toml: []string{`{ kind = "vip", address = "198.18.0.10/24" }`, `interface = "eth0"`}, notTOML: []string{"eth1/x", "averyvery"},
				warns: []string{`ha.cf:3: not converted: ucast heartbeat link: interface "eth1/x" is not a valid Linux interface name`,
					`haresources:1: VIP 198.18.0.10/24: interface "averyveryverylongifname0" is longer than 15 bytes`}}},
		{name: "ping nodes that are the cluster's own addresses", files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1 198.18.1.2\nping 198.18.0.10\nping 198.18.1.2\nping 198.18.2.1\n"},
			want: want{complete: true, toml: []string{`address = "198.18.2.1"`}, notTOML: []string{`address = "198.18.0.10"` + "\n"},
				warns: []string{"ha.cf:3: ping node 198.18.0.10 is a VIP (", "ha.cf:4: ping node 198.18.1.2 is node lb2's ucast heartbeat address on eth1 ("}}},
		{name: "a ucast address given twice is one node's", files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1 198.18.1.1 198.18.1.2\nucast eth2 198.18.1.2\n"},
			want: want{complete: true, toml: []string{`peers = { "lb1" = "198.18.1.1", "lb2" = "198.18.1.2" }`}, notTOML: []string{`"eth2"`},
				warns: []string{"ha.cf:2: ucast eth1 198.18.1.1: address already given at ", "ha.cf:3: ucast eth2 198.18.1.2: address already given at "}}},
		// Heartbeat lowercases node names and compares them ignoring
		// case (uname -n too): LB1 and lb1 are one node, in haresources
		// as well.
		{name: "node names differing only in case are one node", files: map[string]string{"ha.cf": "node LB1 lb2\nnode lb1\nmcast eth0 239.255.0.94 694 1 0\n", "haresources": "LB1 198.18.0.10/24/eth0\n"},
			want: want{complete: true, toml: []string{`nodes = ["lb1", "lb2"]`, `preferred = "lb1"`}, notTOML: []string{"LB1"},
				warns: []string{"ha.cf:1: node LB1 written as lb1: Heartbeat compares node names in lower case (it lowercases uname -n too), and had matches the host name to it ignoring case",
					"ha.cf:2: node lb1 listed again (first at line 1)"},
				notWarns: []string{"haresources:1: node LB1 written as lb1", "not a node line in ha.cf"}}},
		// A repeated medium is one link: Heartbeat sent each heartbeat
		// twice on it, which adds no path.
		{name: "identical links are one link", files: map[string]string{"ha.cf": "node lb1 lb2\nbcast eth1\nbcast eth1\nmcast eth1 239.255.0.94 694 1 0\nmcast eth0 239.255.0.94 694 1 0\nmcast eth1 239.255.0.95 694 1 0\n"},
			want: want{complete: true, toml: []string{"ha.d/ha.cf:2\n", "ha.d/ha.cf:5\n", "ha.d/ha.cf:6\n"}, notTOML: []string{"ha.cf:3\n", "ha.cf:4\n"},
				warns: []string{"ha.cf:3: line 2 already gives this heartbeat link (eth1, group 239.255.0.94, port 694): one link kept, since a repeated medium only sends each heartbeat twice on one path",
					"ha.cf:4: line 2 already gives this heartbeat link (eth1, group 239.255.0.94, port 694): one link kept, since a repeated medium only sends each heartbeat twice on one path"}}},
		{name: "a wildcard service's real that is a VIP on its port is refused", files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord\n",
			"ldirectord.cf": "virtual=0.0.0.0:80\n\treal=198.18.0.20:80 masq\n\treal=198.18.1.1:80 masq\n\tchecktype=connect\n"},
			want: want{toml: []string{`{ address = "198.18.1.1:80" }`, `services = ["http-80"]`}, notTOML: []string{`{ address = "198.18.0.20:80" }`},
				warns: []string{"ldirectord.cf:2: not converted: real 198.18.0.20:80 is the service itself: it listens on 0.0.0.0:80, and 198.18.0.20 is a VIP ("}}},
		{name: "a wildcard service with only itself as real is refused", files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord\n",
			"ldirectord.cf": "virtual=0.0.0.0:80\n\treal=198.18.0.20:80 masq\n\tchecktype=connect\n"},
			want: want{toml: []string{`address = "198.18.0.20/24"`}, notTOML: []string{"[[service]]", "balancer"},
				warns: []string{"ldirectord.cf:1: not converted: virtual service 0.0.0.0:80 has no real server left"}}},
		{name: "ldirectord on one line and its VIP on another line of the same node: the service moves to the VIP's group",
			files: map[string]string{"haresources": "lb1 ldirectord\nlb1 198.18.0.20/24\n", "ldirectord.cf": ld},
			want: want{complete: true, toml: []string{"name = \"vip-198.18.0.20\"", `{ kind = "balancer", services = ["http-80"] }`}, notTOML: []string{`name = "ldirectord"`},
				warns: []string{"haresources:1: service http-80 (", "listens on 198.18.0.20, a VIP of group vip-198.18.0.20 (", "both prefer node lb1", "haresources:1: group ldirectord: every service it activated moved to group vip-198.18.0.20"}}},
		{name: "ldirectord on one node's line and its VIP on the other node's is refused, naming both lines",
			files: map[string]string{"haresources": "lb1 ldirectord 198.18.0.10/24\nlb2 198.18.0.20/24\n", "ldirectord.cf": ld},
			want: want{toml: []string{`address = "198.18.0.20/24"`, `address = "198.18.0.10/24"`}, notTOML: []string{"[[service]]", "balancer"},
				warns: []string{"ldirectord.cf:1: not converted: service http-80 listens on 198.18.0.20, a VIP of group vip-198.18.0.20 (", "haresources:2, preferred node lb2), but group vip-198.18.0.10 activates it (", "haresources:1, preferred node lb1)"}}},
		{name: "LVSSyncDaemonSwap and ldirectord on one line, the VIP on another line of the same node: the sync goes with the services",
			files: map[string]string{"ha.cf": "node lb1 lb2\nucast eth1 198.18.1.1\nucast eth1 198.18.1.2\n", "haresources": "lb1 LVSSyncDaemonSwap::master ldirectord\nlb1 198.18.0.20/24/eth0\n",
				"ldirectord.cf": "virtual=198.18.0.20:80\n\treal=198.18.0.31:80 gate\n\tchecktype=connect\n\tscheduler=sh\n"},
			want: want{complete: true, toml: []string{"method = \"dr\"", "name = \"vip-198.18.0.20\"",
				`{ kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.1", "198.18.1.2"] },  # `}, notTOML: []string{`name = "LVSSyncDaemonSwap-master"`, `"ipvs-sync"`},
				warns:    []string{"haresources:1: group LVSSyncDaemonSwap-master: every service it activated moved to group vip-198.18.0.20, with its connection sync"},
				notWarns: []string{"forwarded by hapair's userspace balancer"}}},
		{name: "one ldirectord.cf named two ways on two lines is refused at the second line",
			files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord\nlb2 198.18.0.21/24 ldirectord::/etc/ha.d/ldirectord.cf\n", "ldirectord.cf": ld},
			want: want{toml: []string{`services = ["http-80"]`}, warns: []string{"haresources:2: not converted: ldirectord::/etc/ha.d/ldirectord.cf already imported at ", "haresources:1 ("},
				notWarns: []string{"is already the virtual service at"}}},
		{name: "virtual services on multicast addresses are refused",
			files: map[string]string{"haresources": "lb1 198.18.0.20/24 ldirectord\n", "ldirectord.cf": ld + "virtual=224.0.0.1:80\n\treal=198.18.1.1:80 masq\nvirtual=[ff02::1]:81\n\treal=198.18.1.1:81 masq\n"},
			want: want{toml: []string{`services = ["http-80"]`}, notTOML: []string{"224.0.0.1", "ff02::1"},
				warns: []string{"ldirectord.cf:6: not converted: virtual service 224.0.0.1:80: no node can hold 224.0.0.1 as a VIP (", "ldirectord.cf:8: not converted: virtual service [ff02::1]:81: no node can hold ff02::1 as a VIP ("}}},
		{name: "a VIP that is its subnet's network or broadcast address, or the limited broadcast, is refused (ha/vip's rule)",
			files: map[string]string{"haresources": "lb1 198.18.0.10/24 198.18.0.255/24 IPaddr2::198.18.0.0/24/eth0 255.255.255.255 ldirectord\n",
				"ldirectord.cf": "virtual=255.255.255.255:80\n\treal=198.18.1.1:80 masq\n\tchecktype=connect\n"},
			want: want{toml: []string{`address = "198.18.0.10/24"`}, notTOML: []string{"198.18.0.255", "198.18.0.0/24", "255.255.255.255"},
				warns: []string{"haresources:1: not converted: IPaddr::198.18.0.255/24: 198.18.0.255/24 cannot be a virtual address: it is the broadcast address of 198.18.0.0/24",
					"haresources:1: not converted: IPaddr2::198.18.0.0/24/eth0: 198.18.0.0/24 cannot be a virtual address: it is the network address of 198.18.0.0/24",
					"haresources:1: not converted: IPaddr::255.255.255.255: 255.255.255.255/32 cannot be a virtual address",
					"ldirectord.cf:1: not converted: virtual service 255.255.255.255:80: no node can hold 255.255.255.255 as a VIP ("}}},
		{name: "haresources missing", files: map[string]string{"haresources": ""},
			want: want{warns: []string{"haresources: not converted: cannot read haresources", "not converted: no resource group could be imported"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { heartbeatCase(t, tc.files, tc.want) })
	}
}

func TestAuthkeys(t *testing.T) {
	tests := []struct {
		name string
		ak   string
		want want
	}{
		{name: "sha256 with comments", ak: "# keys\n\nauth 2\n1 sha1 old-secret-kept-for-rotation\n2 sha256 0123456789abcdef0123456789abcdef\n",
			want: want{complete: true, toml: []string{`authkeys = "/`}, warns: []string{"authkeys:4: key 1 uses sha1", "rotate without downtime"}}},
		{name: "md5 as the HAProxy + Heartbeat 2 article wrote it", ak: "auth 3\n3 md5 $randomString\n",
			want: want{complete: true, warns: []string{"authkeys:2: key 3 uses md5", "move `auth` to N on both", "authkeys:2: key 3: secret is only 13 bytes"}}},
		{name: "crc is refused", ak: "auth 1\n1 crc\n",
			want: want{toml: []string{"PLACEHOLDER", `authkeys = "authkeys"`}, warns: []string{"authkeys:2: not converted: key 1: method crc refused"}}},
		{name: "syntax errors", ak: "auth one\n1 sha256\n",
			want: want{warns: []string{`authkeys:1: not converted: auth "one"`, "authkeys:2: not converted: key 1: sha256 needs a secret"}}},
		{name: "missing", ak: "",
			want: want{toml: []string{"PLACEHOLDER"}, warns: []string{"authkeys: not converted: cannot read authkeys"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { heartbeatCase(t, map[string]string{"authkeys": tc.ak}, tc.want) })
	}
}

func TestAuthkeysMode(t *testing.T) {
	dir := writeDir(t, map[string]string{"ha.cf": baseHACF, "haresources": baseHR, "authkeys": baseAK})
	if err := os.Chmod(filepath.Join(dir, "authkeys"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Heartbeat(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The import warns; after the chmod it asks for, had would load the file.
	if err := os.Chmod(filepath.Join(dir, "authkeys"), 0o600); err != nil {
		t.Fatal(err)
	}
	want{complete: true, warns: []string{"authkeys: mode 0644 gives group or others access", "chmod 600"}}.check(t, res)
}

func TestHeartbeatNoHACF(t *testing.T) {
	if _, err := Heartbeat(t.TempDir()); err == nil {
		t.Fatal("Heartbeat(empty dir) = nil error, want one naming ha.cf")
	}
}

// nodeNames returns "nFROM ... nTO", space-separated.
func nodeNames(from, to int) string {
	var ns []string
	for i := from; i <= to; i++ {
		ns = append(ns, "n"+strconv.Itoa(i))
	}
	return strings.Join(ns, " ")
}

func TestMaxNodes(t *testing.T) {
	if maxNodes != ha.MaxNodes {
		t.Fatalf("maxNodes = %d, want ha.MaxNodes = %d", maxNodes, ha.MaxNodes)
	}
}

// ucastLines returns n ucast lines, ucast ethI 198.18.I.1 for I = 1..n.
func ucastLines(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "ucast eth%d 198.18.%d.1\n", i, i)
	}
	return b.String()
}

// testNet1 returns every host address of 192.0.2.0/24, space-separated.
func testNet1() string {
	var as []string
	for i := 1; i < 255; i++ {
		as = append(as, "192.0.2."+strconv.Itoa(i))
	}
	return strings.Join(as, " ")
}
