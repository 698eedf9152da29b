package importer

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestIPVSAdm(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		want  want
	}{
		{name: "ipvsadm-save -n", rules: "-A -t 198.18.0.20:80 -s rr -p 300\n-a -t 198.18.0.20:80 -r 198.18.1.1:80 -m -w 1\n-a -t 198.18.0.20:80 -r 198.18.1.2:80 -m -w 3\n" +
			"-A -u 198.18.0.20:5060 -s sh\n-a -u 198.18.0.20:5060 -r 198.18.1.1:5060 -g -w 1\n",
			want: want{complete: true, toml: []string{`name = "tcp-80"`, `scheduler = "rr"`, `persistent = "300s"`, `{ address = "198.18.1.2:80", weight = 3 }`, "ipvsadm forwarded with masq (LVS-NAT)",
				`protocol = "udp"`, `check = { type = "off" }`},
				warns: []string{"ipvsadm.cf:1: ipvsadm rules have no health check: check type off, every real counts as up", "ipvsadm.cf:4: ipvsadm rules have no health check: check type off"}}},
		{name: "defaults: wlc, gatewaying, weight 1, -p alone is 300s", rules: "-A -t 198.18.0.20:443 -p\n-a -t 198.18.0.20:443 -r 198.18.1.1\n",
			want: want{complete: true, toml: []string{`scheduler = "wlc"`, `persistent = "300s"`, `{ address = "198.18.1.1:443", weight = 1 }`, "gate (LVS-DR)"}}},
		{name: "long options, = values, bundled and attached short options", rules: "ipvsadm --add-service --tcp-service=198.18.0.20:80 --scheduler wrr --persistent 60\n" +
			"ipvsadm --add-server -t198.18.0.20:80 --real-server 198.18.1.1:8080 --masquerading --weight=5\n",
			want: want{complete: true, toml: []string{`scheduler = "wrr"`, `persistent = "60s"`, `{ address = "198.18.1.1:8080", weight = 5 }`}}},
		{name: "a script: variables, comments, continuation, && chains, unknown variables", rules: "#!/bin/sh\n# RapidScale style lvs-init\nVIP=198.18.0.20\nexport SCHED=\"wlc\"\nIPVSADM=/sbin/ipvsadm\n" +
			"$IPVSADM -C\n/sbin/ipvsadm -A -t $VIP:80 \\\n   -p 300 -s $SCHED   # web\n" +
			"check 198.18.1.1 && /sbin/ipvsadm -a -t ${VIP}:80 -r 198.18.1.1 -g && logger added\n" +
			"for i in `cat /cluster/http_nodes`; do\n  /sbin/ipvsadm -a -t $VIP:80 -r $i -g\ndone\necho done\n",
			want: want{complete: true, toml: []string{`listen = "198.18.0.20:80"`, `scheduler = "wlc"`, `"198.18.1.1:80"`, "rapid.sh:7"},
				warns: []string{"rapid.sh:6: ipvsadm -C: clears every service", "rapid.sh:11: ipvsadm -a -t 198.18.0.20:80 -r $i -g: shell variable $i is not set", "rapid.sh:10: 3 shell line(s) that run no ipvsadm command"}}},
		{name: "a service on a multicast address is refused", rules: "-A -t 224.0.0.5:80 -s rr\n-a -t 224.0.0.5:80 -r 198.18.1.1:80 -m\n-A -t 198.18.0.20:80 -s rr\n-a -t 198.18.0.20:80 -r 198.18.1.1:80 -m\n",
			want: want{toml: []string{`listen = "198.18.0.20:80"`}, notTOML: []string{"224.0.0.5"}, warns: []string{"ipvsadm.cf:1: not converted: virtual service 224.0.0.5:80: no node can hold 224.0.0.5 as a VIP ("}}},
		{name: "masq with what the kernel nat method refuses stays in userspace: a loopback real, weights beyond the slot map",
			rules: "-A -t 198.18.0.20:80 -s rr\n-a -t 198.18.0.20:80 -r 127.0.0.1:80 -m\n" +
				"-A -t 198.18.0.20:81 -s wrr\n-a -t 198.18.0.20:81 -r 198.18.1.1:81 -m -w 4000\n-a -t 198.18.0.20:81 -r 198.18.1.2:81 -m -w 97\n" +
				"-A -t 198.18.0.20:82 -s sh\n-a -t 198.18.0.20:82 -r 198.18.1.1:82 -m -w 65535\n-a -t 198.18.0.20:82 -r 198.18.1.2:82 -m\n" +
				"-A -t 198.18.0.20:83 -s rr\n-a -t 198.18.0.20:83 -r 198.18.1.1:83 -m -w 4000\n-a -t 198.18.0.20:83 -r 198.18.1.2:83 -m -w 97\n",
			want: want{complete: true, toml: []string{"listen = \"198.18.0.20:83\"\nmethod = \"nat\""},
				notTOML: []string{"listen = \"198.18.0.20:80\"\nmethod", "listen = \"198.18.0.20:81\"\nmethod", "listen = \"198.18.0.20:82\"\nmethod"},
				warns: []string{`ipvsadm.cf:2: masq: not forwarded by hapair's kernel "nat" method: a loopback real cannot take forwarded packets`,
					`ipvsadm.cf:4: masq: not forwarded by hapair's kernel "nat" method: its weights need 4097 slots in the kernel's slot map, more than 4096`,
					`ipvsadm.cf:7: masq: not forwarded by hapair's kernel "nat" method: its weights need 65536 slots`}}},
		{name: "masq on the wildcard or a loopback address stays in userspace", rules: "-A -t 0.0.0.0:80 -s rr\n-a -t 0.0.0.0:80 -r 198.18.1.1:80 -m\n-A -t 127.0.0.1:81 -s rr\n-a -t 127.0.0.1:81 -r 198.18.1.1:81 -m\n",
			want: want{complete: true, notTOML: []string{`method = "nat"`},
				warns: []string{`ipvsadm.cf:2: masq: not forwarded by hapair's kernel "nat" method: the kernel forwards only packets addressed to the virtual address itself, and none is addressed to 0.0.0.0`,
					`ipvsadm.cf:4: masq: not forwarded by hapair's kernel "nat" method: the kernel forwards only packets addressed to the virtual address itself, and none is addressed to 127.0.0.1`}}},
		{name: "the template link moves off the port a wildcard udp service binds, the warning naming the file", rules: "-A -u 0.0.0.0:694 -s rr\n-a -u 0.0.0.0:694 -r 198.18.1.1:694 -m\n",
			want: want{complete: true, toml: []string{"group = \"239.255.0.94\"\nport = 696\n"}, warns: []string{"ipvsadm.cf: heartbeat port 694: udp service udp-694 (ipvsadm.cf:1) listens on 0.0.0.0:694, where the link binds its heartbeat; port 696 used"}}},
		{name: "-o (--ops) is warned about", rules: "-A -u 198.18.0.100:53 -s rr -o\n-a -u 198.18.0.100:53 -r 198.18.1.11:53 -m\n-A -u 198.18.0.100:54 --ops\n-a -u 198.18.0.100:54 -r 198.18.1.11:54 -m\n",
			want: want{complete: true, toml: []string{`protocol = "udp"`},
				warns: []string{"ipvsadm.cf:1: ipvsadm -A -u 198.18.0.100:53 -s rr -o: -o (one-packet scheduling): not carried over; hapair sends a client's datagrams as one flow to one real until the flow is idle for idle_timeout",
					"ipvsadm.cf:3: ipvsadm -A -u 198.18.0.100:54 --ops: -o (one-packet scheduling): not carried over"}}},
		{name: "edit and delete", rules: "-A -t 198.18.0.20:80 -s rr\n-a -t 198.18.0.20:80 -r 198.18.1.1:80 -w 1\n-a -t 198.18.0.20:80 -r 198.18.1.2:80 -w 1\n" +
			"-E -t 198.18.0.20:80 -s lc\n-e -t 198.18.0.20:80 -r 198.18.1.1:80 -w 7\n-d -t 198.18.0.20:80 -r 198.18.1.2:80\n-A -t 198.18.0.21:80\n-D -t 198.18.0.21:80\n" +
			"-d -t 198.18.0.20:80 -r 198.18.9.9:80\n-a -t 198.18.0.99:80 -r 198.18.1.1:80\n",
			want: want{complete: true, toml: []string{`scheduler = "lc"`, `{ address = "198.18.1.1:80", weight = 7 }`}, notTOML: []string{"198.18.1.2", "198.18.0.21"},
				warns: []string{"ipvsadm.cf:9: ipvsadm -d -t 198.18.0.20:80 -r 198.18.9.9:80: no such real server", "ipvsadm.cf:10: ipvsadm -a -t 198.18.0.99:80 -r 198.18.1.1:80: no service tcp 198.18.0.99:80"}}},
		{name: "not carried over: fwmark, sctp, netmask, flags, thresholds, timeouts, ipip", rules: "-A -f 1 -s rr\n-A --sctp-service 198.18.0.20:80\n-A -t 198.18.0.20:80 -s sed -p 60 -M 255.255.255.0 -b sh-port --pe sip\n" +
			"-a -t 198.18.0.20:80 -r 198.18.1.1:80 -i -x 100 -y 10\n--set 900 120 300\n-L -n\n-Z\n",
			want: want{toml: []string{`scheduler = "wlc"`},
				warns: []string{"ipvsadm.cf:1: not converted: ipvsadm -A -f 1 -s rr: firewall-mark", "ipvsadm.cf:2: not converted:", "ipvsadm.cf:3: ipvsadm -A -t 198.18.0.20:80 -s sed -p 60 -M 255.255.255.0 -b sh-port --pe sip: -M 255.255.255.0: not carried over",
					"-b sh-port: not carried over", "--pe sip: not carried over", "ipvsadm.cf:3: -s sed: hapair has no sed scheduler", "ipvsadm.cf:4: ipip: hapair has no ipip",
					"-x 100: connection thresholds", "ipvsadm.cf:5: ipvsadm --set 900 120 300: IPVS connection timeouts"}}},
		{name: "sync daemon: nothing to sync for a userspace service", rules: "ipvsadm --start-daemon master --mcast-interface eth1 --syncid 3\n-A -t 198.18.0.20:80\n-a -t 198.18.0.20:80 -r 198.18.1.1\n",
			want: want{complete: true, notTOML: []string{`"ipvs-sync"`}, warns: []string{"ipvsadm.cf:1: ipvsadm --start-daemon master: not carried over: the group's services are forwarded by hapair's userspace balancer"}}},
		{name: "sync daemon with a kernel nat service: conntrack-sync to add", rules: "ipvsadm --start-daemon master --mcast-interface eth1\n-A -t 198.18.0.20:80 -s rr\n-a -t 198.18.0.20:80 -r 198.18.1.1:80 -m\n",
			want: want{complete: true, toml: []string{`method = "nat"`}, notTOML: []string{`"ipvs-sync"`}, warns: []string{`ipvsadm.cf:1: ipvsadm --start-daemon master: not carried over: the group's nat/dr services keep their connections in conntrack`, `add { kind = "conntrack-sync"`}}},
		{name: "host names and service names", rules: "-A -t www.example.com:http -s wlc\n-A -t 198.18.0.20:http\n-a -t 198.18.0.20:http -r web1:http -g\n-a -t 198.18.0.20:80 -r 198.18.1.1:www -g\n",
			want: want{toml: []string{`listen = "198.18.0.20:80"`, `"198.18.1.1:80"`, `{ address = "web1:80", weight = 1 }`}, warns: []string{`ipvsadm.cf:1: not converted: ipvsadm -A -t www.example.com:http -s wlc: virtual address "www.example.com" is a host name`}}},
		{name: "IPv6", rules: "-A -t [2001:db8::20]:80 -s rr\n-a -t [2001:db8::20]:80 -r [2001:db8::1]:80 -m -w 1\n",
			want: want{complete: true, toml: []string{`listen = "[2001:db8::20]:80"`, `"[2001:db8::1]:80"`}}},
		{name: "broken lines", rules: "-A -t\n-A -t 198.18.0.20:0\n-A -t 198.18.0.20:80 'unterminated\n-a -t 198.18.0.20:80\nipvsadm -X\n",
			want: want{warns: []string{"ipvsadm.cf:1: ipvsadm -A -t: -t wants a value", `ipvsadm.cf:2: not converted: ipvsadm -A -t 198.18.0.20:0: -t "0" is not a port`,
				"ipvsadm.cf:3: \"-A -t 198.18.0.20:80 'unterminated\": unterminated quote", "ipvsadm.cf:5: ipvsadm -X: not an ipvsadm command"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "ipvsadm.cf"
			if strings.HasPrefix(tc.rules, "#!") {
				name = "rapid.sh"
			}
			res, err := IPVSAdm(name, strings.NewReader(tc.rules))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.check(t, res)
		})
	}
}

// ipvsadm(8) takes one forwarding method per command: with two (or one
// twice) it fails, so the real never existed. The import skips the
// command, the same way on every run (it once took whichever of -g, -i,
// -m a map range met last: FuzzIPVSAdm 4a848fd61bb9b1cc).
func TestIPVSAdmForwardingMethods(t *testing.T) {
	for _, opts := range []string{"-g -m", "-m -i", "-i -g -m", "-m -m", "--gatewaying --ipip", "-mi"} {
		t.Run(opts, func(t *testing.T) {
			rules := "-A -t 198.18.0.20:80\n-a -t 198.18.0.20:80 -r 198.18.1.1 -g\n-a -t 198.18.0.20:80 -r 198.18.1.2 " + opts + "\n"
			first, err := IPVSAdm("ipvsadm.cf", strings.NewReader(rules))
			if err != nil {
				t.Fatal(err)
			}
			want{complete: true, toml: []string{`"198.18.1.1:80"`, "gate (LVS-DR)"}, notTOML: []string{"198.18.1.2"},
				warns: []string{"ipvsadm.cf:3: ipvsadm -a -t 198.18.0.20:80 -r 198.18.1.2 " + opts + ": more than one forwarding method"}}.check(t, first)
			for range 50 {
				res, _ := IPVSAdm("ipvsadm.cf", strings.NewReader(rules))
				if !bytes.Equal(res.TOML, first.TOML) || !slices.Equal(res.Warnings, first.Warnings) {
					t.Fatalf("imports differ:\n%s%v\n---\n%s%v", first.TOML, first.Warnings, res.TOML, res.Warnings)
				}
			}
		})
	}
}
