package config

import (
	"strings"
	"testing"
)

// TestSiblings covers the kin of issue 8's cases: settings had would refuse
// or misread at start, each reported alone with its exact message.
func TestSiblings(t *testing.T) {
	base := minimal + svc
	edit := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("base has no %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	tests := []struct {
		desc, in, want string
	}{
		{"backup equal to listen",
			edit(`reals = [ { address = "198.18.1.11:80" } ]`, `reals = [ { address = "198.18.1.11:80" } ]`+"\nbackups = [ { address = \"198.18.0.100\" } ]"),
			`t.toml:23:25: service[0].backups[0].address: 198.18.0.100:80 is the service's own listen address 198.18.0.100:80: it would forward to itself`},
		{"real in both reals and backups",
			edit(`reals = [ { address = "198.18.1.11:80" } ]`, `reals = [ { address = "198.18.1.11:80" } ]`+"\nbackups = [ { address = \"198.18.1.11:80\" } ]"),
			`t.toml:23:25: service[0].backups[0].address: 198.18.1.11:80 is listed again (first at t.toml:22:23)`},
		{"fallback equal to a real",
			edit(`reals = [ { address = "198.18.1.11:80" } ]`, `reals = [ { address = "198.18.1.11:80" } ]`+"\nfallback = \"198.18.1.11:80\""),
			`t.toml:23:12: service[0].fallback: 198.18.1.11:80 is already listed as a real or backup: the fallback serves only when every one of them is down, so it would be down too (first at t.toml:22:23)`},
		{"fallback equal to a backup",
			edit(`reals = [ { address = "198.18.1.11:80" } ]`, `reals = [ { address = "198.18.1.11:80" } ]`+"\nbackups = [ { address = \"198.18.1.12:80\" } ]\nfallback = \"198.18.1.12:80\""),
			`t.toml:24:12: service[0].fallback: 198.18.1.12:80 is already listed as a real or backup: the fallback serves only when every one of them is down, so it would be down too (first at t.toml:23:25)`},
		{"nat fallback equal to a real",
			edit(`reals = [ { address = "198.18.1.11:80" } ]`, `reals = [ { address = "198.18.1.11:80" } ]`+"\nmethod = \"nat\"\nfallback = \"198.18.1.11\""),
			`t.toml:24:12: service[0].fallback: 198.18.1.11:80 is already listed as a real or backup: the fallback serves only when every one of them is down, so it would be down too (first at t.toml:22:23)`},
		{"the same monitor twice",
			base + `monitors = [ { script = "/bin/true", args = ["a"] }, { script = "/bin/true", args = ["a"], interval = "9s" } ]` + "\n",
			`t.toml:23:65: service[0].monitors[1].script: "/bin/true" with the same args is listed again (first at t.toml:23:25)`},
		{"one monitor program with other args",
			base + `monitors = [ { script = "/bin/true", args = ["a"] }, { script = "/bin/true", args = ["b"] } ]` + "\n",
			``},
		{"monitor with a relative path",
			base + `monitors = [ { script = "check-db" } ]` + "\n",
			`t.toml:23:25: service[0].monitors[0].script: "check-db": want an absolute path`},
		{"monitor timeout over interval",
			base + `monitors = [ { script = "/bin/true", interval = "1s", timeout = "2s" } ]` + "\n",
			`t.toml:23:65: service[0].monitors[0].timeout: 2s is longer than interval 1s: a hung monitor would run once per timeout, not once per interval`},
		{"external check with a relative program",
			edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\ncheck = { type = \"external\", program = \"check.sh\" }"),
			`t.toml:22:40: service[0].check.program: "check.sh": want an absolute path`},
		{"udp service with a connect check",
			edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:5060"`+"\nprotocol = \"udp\"\ncheck = { type = \"connect\" }"),
			`t.toml:23:18: service[0].check.type: "connect" cannot probe a udp service; use sip or external`},
		{"track with a relative script",
			base + "\n[[track]]\nname = \"db\"\nscript = \"check-db\"\n",
			`t.toml:26:10: track[0].script: "check-db": want an absolute path`},
		{"group notify relative",
			edit(`preferred = "lb1"`, `preferred = "lb1"`+"\nnotify = \"notify.sh\""),
			`t.toml:14:10: group[0].notify: "notify.sh": want an absolute path`},
		{"ping weight out of range",
			base + "\n[[ping]]\naddress = \"198.18.0.1\"\nweight = 255\n",
			`t.toml:26:10: ping[0].weight: 255 is out of range 0..254`},
		{"ping node that is a VIP",
			base + "\n[[ping]]\naddress = \"198.18.0.100\"\n",
			`t.toml:25:11: ping[0].address: 198.18.0.100 is a VIP of group "web" (t.toml:15:29): it answers for the cluster itself, so it breaks no tie`},
		{"two pings on one address",
			base + "\n[[ping]]\naddress = \"198.18.0.1\"\n[[ping]]\naddress = \"198.18.0.1\"\n",
			`t.toml:26:3: ping[1]: check name "ping 198.18.0.1" is empty or listed twice`},
		{"ping timeout over interval",
			base + "\n[[ping]]\naddress = \"198.18.0.1\"\ninterval = \"500ms\"\ntimeout = \"1s\"\n",
			`t.toml:27:11: ping[0].timeout: 1s is longer than interval 500ms: a hung target would be probed once per timeout, so fall × interval would not bound detection`},
		{"check interval of 1ns (checks back to back)",
			edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\ncheck = { interval = \"1ns\", timeout = \"1ns\" }"),
			`t.toml:22:22: service[0].check.interval: 1ns is shorter than 10ms, the shortest probe interval: each run costs a connection or a process`},
		{"check timeout under a millisecond",
			edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\ncheck = { timeout = \"500us\" }"),
			`t.toml:22:21: service[0].check.timeout: 500µs is shorter than 1ms: no check, ping or program completes that fast`},
		{"ping interval of 1ns",
			base + "\n[[ping]]\naddress = \"198.18.0.1\"\ninterval = \"1ns\"\ntimeout = \"1ns\"\n",
			`t.toml:26:12: ping[0].interval: 1ns is shorter than 10ms, the shortest probe interval: each run costs a connection or a process`},
		{"track interval of 1ns",
			base + "\n[[track]]\nname = \"db\"\nscript = \"/bin/true\"\ninterval = \"1ns\"\ntimeout = \"1ns\"\n",
			`t.toml:27:12: track[0].interval: 1ns is shorter than 10ms, the shortest probe interval: each run costs a connection or a process`},
		{"monitor interval of 1ns",
			base + `monitors = [ { script = "/bin/true", interval = "1ns", timeout = "1ns" } ]` + "\n",
			`t.toml:23:49: service[0].monitors[0].interval: 1ns is shorter than 10ms, the shortest probe interval: each run costs a connection or a process`},
		{"check timeout over interval",
			edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\ncheck = { interval = \"1s\", timeout = \"3s\" }"),
			`t.toml:22:38: service[0].check.timeout: 3s is longer than interval 1s: a hung real would be probed once per timeout, so fall × interval would not bound detection`},
		{"wildcard listen overlapping a VIP listen",
			strings.Replace(base, `services = ["http"]`, `services = ["http", "any"]`, 1) + "\n[[service]]\nname = \"any\"\nlisten = \"0.0.0.0:80\"\nreals = [ { address = \"198.18.1.12:80\" } ]\n",
			`t.toml:26:10: service[1].listen: tcp 0.0.0.0:80 collides with tcp 198.18.0.100:80 of service "http" (first at t.toml:21:10)`},
		{"udp service on the heartbeat port",
			strings.Replace(base, `services = ["http"]`, `services = ["http", "syslog"]`, 1) + "\n[[service]]\nname = \"syslog\"\nlisten = \"0.0.0.0:694\"\nprotocol = \"udp\"\ncheck = { type = \"sip\" }\nreals = [ { address = \"198.18.1.12:694\" } ]\n",
			`t.toml:26:10: service[1].listen: udp 0.0.0.0:694 takes port 694 of heartbeat link mcast0 (t.toml:6:3): pick another port for one of them`},
		{"udp service on the persistence sync port",
			strings.Replace(base, `services = ["http"]`, `services = ["http", "sip"]`, 1) + "\n[[service]]\nname = \"sip\"\nlisten = \"0.0.0.0:695\"\nprotocol = \"udp\"\npersistent = \"60s\"\ncheck = { type = \"sip\" }\nreals = [ { address = \"198.18.1.12:5060\" } ]\n",
			`t.toml:26:10: service[1].listen: udp 0.0.0.0:695 takes port 695 of link mcast0's persistence sync (its heartbeat port + 1; t.toml:6:3): pick another port for one of them`},
		{"udp service on port + 1 without the sync",
			strings.Replace(base, `services = ["http"]`, `services = ["http", "sip"]`, 1) + "\n[[service]]\nname = \"sip\"\nlisten = \"0.0.0.0:695\"\nprotocol = \"udp\"\ncheck = { type = \"sip\" }\nreals = [ { address = \"198.18.1.12:5060\" } ]\n",
			``},
		{"udp service on a VIP does not take the mcast link's port",
			strings.Replace(base, `services = ["http"]`, `services = ["http", "syslog"]`, 1) + "\n[[service]]\nname = \"syslog\"\nlisten = \"198.18.0.100:694\"\nprotocol = \"udp\"\ncheck = { type = \"sip\" }\nreals = [ { address = \"198.18.1.12:694\" } ]\n",
			``},
		{"two ucast links on one address and port",
			base + "\n[[link]]\nkind = \"ucast\"\npeers = { lb1 = \"198.18.1.11\", lb2 = \"198.18.1.12\" }\n[[link]]\nkind = \"ucast\"\npeers = { lb1 = \"198.18.1.11\", lb2 = \"198.18.1.13\" }\n",
			`t.toml:29:17: link[2].peers.lb1: 198.18.1.11:694 is already bound by the link at t.toml:26:17: two ucast links cannot share an address and port; give one another port`},
		{"IPv6 multicast link group",
			strings.Replace(base, `group = "239.255.0.94"`, `group = "ff02::1:94"`, 1),
			`t.toml:9:9: link[0].group: ff02::1:94 is IPv6; links carry IPv4 only (the TTL-255 guard reads IPv4 control messages)`},
		{"label on an IPv6 VIP",
			edit(`{ kind = "vip", address = "198.18.0.100/24", interface = "eth0" }`, `{ kind = "vip", address = "2001:db8::100/64", interface = "eth0", label = "eth0:web" }, { kind = "vip", address = "198.18.0.100/24" }`),
			`t.toml:15:77: group[0].resources[0].label: "eth0:web": IPv6 addresses carry no label`},
		{"zero failback hold",
			strings.Replace(base, "id = 7", "id = 7\nfailback_hold = \"0s\"", 1),
			`t.toml:4:17: cluster.failback_hold: 0s: want a positive duration`},
		{"garp second burst inside the first",
			base + "\n[garp]\ncount = 5\ninterval = \"1s\"\nsecond_burst = \"2s\"\n",
			`t.toml:27:16: garp.second_burst: 2s must be after the first burst ends (4s)`},
		{"keepalive too long, with the timers compared to it written",
			edit(`nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb2"]`+"\nkeepalive = \"2h\"\nwarntime = \"5s\"\ndeadtime = \"10s\""),
			`t.toml:5:13: cluster.keepalive: 2h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries (ha/wire)`},
		{"keepalive too long, the timers derived from it",
			edit(`nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb2"]`+"\nkeepalive = \"2h\""),
			`t.toml:5:13: cluster.keepalive: 2h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries (ha/wire)`},
		{"garp second burst inside the first, in a vip with its own garp",
			strings.Replace(base, `interface = "eth0" }`, `interface = "eth0", garp = { count = 3 } }`, 1) + "\n[garp]\ncount = 5\ninterval = \"1s\"\nsecond_burst = \"2s\"\n",
			`t.toml:27:16: garp.second_burst: 2s must be after the first burst ends (4s)`},
		{"garp second burst from [garp] inside a vip's longer first burst",
			strings.Replace(base, `interface = "eth0" }`, `interface = "eth0", garp = { interval = "2s" } }`, 1) + "\n[garp]\nsecond_burst = \"3s\"\n",
			`t.toml:15:68: group[0].resources[0].garp.second_burst: 3s must be after the first burst ends (8s); second_burst is not set in this vip's garp: it is [garp] at t.toml:25:16`},
		{"default garp second burst inside a vip's longer first burst",
			strings.Replace(base, `interface = "eth0" }`, `interface = "eth0", garp = { interval = "2s" } }`, 1),
			`t.toml:15:68: group[0].resources[0].garp.second_burst: 5s must be after the first burst ends (8s); second_burst is not set in this vip's garp: it is the default`},
		{"check key of another type in a table",
			base + "\n[service.check]\ntype = \"sip\"\nhost = \"x\"\n",
			`t.toml:26:1: service[0].check.host: key "host" is not used by check type "sip" (only by negotiate, http, a number N)`},
		{"relative socket",
			edit(`nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb2"]`+"\nsocket = \"had.sock\""),
			`t.toml:5:10: cluster.socket: "had.sock": want an absolute path (hactl and had run from different directories)`},
		{"socket path longer than sun_path",
			edit(`nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb2"]`+"\nsocket = \"/run/hapair/"+strings.Repeat("s", 91)+".sock\""),
			`t.toml:5:10: cluster.socket: 108 bytes is longer than the 107 a Unix socket path holds (sun_path, unix(7))`},
		{"socket path of 107 bytes",
			edit(`nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb2"]`+"\nsocket = \"/run/hapair/"+strings.Repeat("s", 90)+".sock\""),
			``},
		{"relative state_dir",
			edit(`nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb2"]`+"\nstate_dir = \"state\""),
			`t.toml:5:13: cluster.state_dir: "state": want an absolute path`},
		{"persistence longer than the sync carries",
			edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\npersistent = \"169h\""),
			`t.toml:22:14: service[0].persistent: 169h0m0s is longer than 168h0m0s, the most the persistence sync carries to the peer`},
		{"persistence of a week",
			edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\npersistent = \"168h\""),
			``},
		{"heartbeat port 65535 with a persistent service",
			strings.Replace(edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\npersistent = \"300s\""), `group = "239.255.0.94"`, `group = "239.255.0.94"`+"\nport = 65535", 1),
			`t.toml:10:8: link[0].port: heartbeat port 65535 of link mcast0 leaves no port + 1 for its persistence sync (a service has persistent or method dr)`},
		{"sync port of one link is another's heartbeat port",
			strings.Replace(edit(`listen = "198.18.0.100:80"`, `listen = "198.18.0.100:80"`+"\npersistent = \"300s\""), `group = "239.255.0.94"`, `group = "239.255.0.94"`+"\n\n[[link]]\nkind = \"ucast\"\nport = 695\npeers = { lb1 = \"198.18.1.1\", lb2 = \"198.18.1.2\" }", 1),
			`t.toml:6:3: link[0]: the persistence sync of link mcast0 uses port 695 (its heartbeat port + 1, as a service has persistent or method dr), which link ucast0 (t.toml:13:8) uses for heartbeats: give the links ports at least 2 apart`},
		{"links 1 apart without a persistent service",
			strings.Replace(base, `group = "239.255.0.94"`, `group = "239.255.0.94"`+"\n\n[[link]]\nkind = \"ucast\"\nport = 695\npeers = { lb1 = \"198.18.1.1\", lb2 = \"198.18.1.2\" }", 1),
			``},
		{"no group",
			minimal,
			`t.toml:1:1: group: want at least one group: a node with none has nothing to hold`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "t.toml")
			if tt.want == "" {
				if err != nil {
					t.Errorf("Parse() error:\n%v\nwant none", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse() error:\n%v\nwant exactly:\n%s", err, tt.want)
			}
		})
	}
}
