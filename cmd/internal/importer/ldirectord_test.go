package importer

import "testing"

func ldCase(t *testing.T, cf string, w want) {
	t.Helper()
	w.check(t, ldirectord("ldirectord.cf", []byte(cf)))
}

func TestLdirectord(t *testing.T) {
	const web = "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\treal=198.18.1.2:80 gate 3\n\tservice=http\n\treceive=\"ok\"\n"
	tests := []struct {
		name string
		cf   string
		want want
	}{
		{name: "service names keep to the nat method's alphabet and stay unique", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 masq\n\tservice=\"web.v2\"\n\tchecktype=connect\n" +
			"virtual=198.18.0.21:80\n\treal=198.18.1.1:80 masq\n\tservice=web_v2\n\tchecktype=connect\n" +
			"virtual=198.18.0.22:80\n\treal=198.18.1.1:80 ipip\n\tservice=\"web.v2\"\n\tchecktype=connect\n" +
			"virtual=198.18.0.23:80\n\treal=198.18.1.1:80 ipip\n\tservice=web_v2\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`name = "web-v2-80"`, `method = "nat"`, `# NOTE: named web-v2-80: the name "web.v2-80" derived from the source is not a valid service name`, `name = "web_v2-80"`,
				`name = "web.v2-80"`, `# NOTE: named web_v2-80-2: the name "web_v2-80" derived from the source is already another service's name`}}},
		{name: "global directives", cf: "checktimeout=3\nnegotiatetimeout=4\nconnecttimeout=2\ncheckinterval=6\ncheckcount=2\nfailurecount=3\nautoreload=yes\n" +
			"callback=\"/usr/local/bin/sync-cf\"\nlogfile=\"local0\"\nemailalert=\"ops@example.com\"\nemailalertfreq=3600\nemailalertstatus=all\nquiescent=no\nfallback=127.0.0.1:8080\n" + web,
			want: want{complete: true, toml: []string{`interval = "6s", timeout = "4s", rise = 1, fall = 6`, "quiescent = false", `fallback = "127.0.0.1:8080"`, "template"},
				warns: []string{"ldirectord.cf:7: autoreload: not carried over", "ldirectord.cf:8: callback", "ldirectord.cf:9: logfile", "ldirectord.cf:10: emailalert: not carried over",
					"ldirectord.cf:11: emailalertfreq", "ldirectord.cf:12: emailalertstatus", "no cluster in this file"}}},
		{name: "masq and gate with an IPv6 real or fallback behind an IPv4 VIP stay in userspace (the kernel methods are IPv4 only)",
			cf: "virtual=198.18.0.20:80\n\treal=[2001:db8::1]:80 masq\n\treal=198.18.1.2:80 masq\n\tchecktype=connect\n" +
				"virtual=198.18.0.20:81\n\treal=198.18.1.1:81 masq\n\tfallback=[2001:db8::9]:81\n\tchecktype=connect\n" +
				"virtual=198.18.0.20:82\n\treal=198.18.1.1:82 masq\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`{ address = "[2001:db8::1]:80" }`, `fallback = "[2001:db8::9]:81"`, "listen = \"198.18.0.20:82\"\nmethod = \"nat\""},
				notTOML: []string{"listen = \"198.18.0.20:80\"\nmethod", "listen = \"198.18.0.20:81\"\nmethod"},
				warns:   []string{`ldirectord.cf:2: masq: not forwarded by hapair's kernel "nat" method: hapair's kernel methods are IPv4 only`, `ldirectord.cf:6: masq: not forwarded by hapair's kernel "nat" method: hapair's kernel methods are IPv4 only`}}},
		{name: "a fallback that is also a real is not imported (it would be down whenever needed)", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1 gate\n\tfallback=198.18.1.1:80\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`"198.18.1.1:80"`}, notTOML: []string{"fallback ="}, warns: []string{"ldirectord.cf:1: fallback 198.18.1.1:80 is already a real or backup (ldirectord.cf:2)"}}},
		{name: "a real written with and without the service's port is one real", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1 gate\n\treal=198.18.1.1:80 gate\n\tchecktype=connect\n",
			want: want{complete: true, warns: []string{"ldirectord.cf:3: real 198.18.1.1:80 listed again (first at ldirectord.cf:2); ignored"}}},
		{name: "ldirectord's defaults: negotiate, 10s interval, quiescent, wrr", cf: web,
			want: want{complete: true, toml: []string{`check = { type = "negotiate", receive = "ok"`, `interval = "10s", timeout = "10s"`, "quiescent = true", `scheduler = "wrr"`,
				`{ address = "198.18.1.2:80", weight = 3 }`, `name = "http-80"`, `{ kind = "vip", address = "198.18.0.20/32" }`}}},
		{name: "connect check uses connecttimeout", cf: "checktimeout=20\nconnecttimeout=2\nvirtual=198.18.0.20:25\n\treal=198.18.1.1 gate\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`check = { type = "connect", interval = "10s", timeout = "2s"`, `"198.18.1.1:25"`}}},
		{name: "timeout longer than interval", cf: "checktimeout=20\ncheckinterval=5\nvirtual=198.18.0.20:25\n\treal=198.18.1.1 gate\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`timeout = "5s"`}, warns: []string{"ldirectord.cf:1: connecttimeout 20s is longer than checkinterval 5s"}}},
		{name: "per-virtual overrides of global settings", cf: "checkinterval=10\nquiescent=yes\nvirtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tchecktype=connect\n\tcheckinterval=3\n\tquiescent=no\n\tfallback=198.18.2.1\n",
			want: want{complete: true, toml: []string{`interval = "3s"`, "quiescent = false", `fallback = "198.18.2.1:80"`}}},
		{name: "request without a slash, virtualhost, httpmethod", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tservice=http\n\trequest=\"index.html\"\n\treceive=\"Test Page\"\n\tvirtualhost=www.example.com\n\thttpmethod=HEAD\n",
			want: want{complete: true, toml: []string{`request = "/index.html", receive = "Test Page", host = "www.example.com"`}, warns: []string{"ldirectord.cf:7: httpmethod=HEAD: not carried over"}}},
		{name: "a request's fragment is dropped, as ldirectord's LWP keeps it to itself", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tservice=http\n\trequest=\"/index.html#top\"\n\treceive=\"ok\"\n",
			want: want{complete: true, toml: []string{`request = "/index.html", receive = "ok"`}, notTOML: []string{"#top"}}},
		{name: "a virtualhost no Host header can carry is not carried over", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tservice=http\n\trequest=\"/\"\n\treceive=\"ok\"\n\tvirtualhost=\"www.example.com/x\"\n",
			want: want{complete: true, toml: []string{`request = "/", receive = "ok", interval`}, notTOML: []string{"host ="},
				warns: []string{`ldirectord.cf:6: virtualhost="www.example.com/x": not carried over: "www.example.com/x": want a host name or address, optionally :port, as an HTTP Host header (RFC 9110 section 7.2); the check sends the real's address`}}},
		{name: "request with spaces is percent-encoded, as ldirectord's LWP sends it", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate 1 \"x y\", \"ok\"\n\tservice=http\n\trequest=\"/a b\"\n\treceive=\"ok\"\n",
			want: want{complete: true, toml: []string{`request = "/a%20b", receive = "ok"`, `request = "/x%20y"`}}},
		{name: "negotiate without receive is an HTTP status check", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\trequest=\"/health\"\n",
			want: want{complete: true, toml: []string{`check = { type = "http", request = "/health"`}}},
		{name: "receive that is not RE2", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tservice=http\n\treceive=\"(?<=a)b\"\n",
			want: want{complete: true, toml: []string{`type = "http"`}, warns: []string{"ldirectord.cf:4: receive=\"(?<=a)b\" is not an RE2 regexp"}}},
		{name: "checktype N", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tservice=http\n\tchecktype=5\n\treceive=\"ok\"\n",
			want: want{complete: true, toml: []string{`type = "5", receive = "ok"`}}},
		{name: "checktype off activates no real and no fallback (ldirectord(8)): every real at weight 0, the fallback dropped",
			cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\treal=198.18.1.2:80 gate 3\n\tfallback=198.18.2.1:80\n\tchecktype=off\n",
			want: want{complete: true, toml: []string{`check = { type = "off" }`, `{ address = "198.18.1.1:80", weight = 0 }`, `{ address = "198.18.1.2:80", weight = 0 }`,
				"# checktype=off: ldirectord activated no real and no fallback; every real at weight 0: set the weights and a check to turn this service on"},
				notTOML:  []string{"fallback =", "weight = 3"},
				warns:    []string{"ldirectord.cf:5: checktype=off: ldirectord activates no real and no fallback; hapair has no switched-off service, so every real is written with weight = 0 and fallback 198.18.2.1:80 not imported: the service takes no new connection until its weights are set"},
				notWarns: []string{"every real counts as up"}}},
		{name: "checktype on keeps every real up (ldirectord(8)): check type off", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate 2\n\tchecktype=on\n",
			want: want{complete: true, toml: []string{`check = { type = "off" }`, `{ address = "198.18.1.1:80", weight = 2 }`},
				warns:    []string{"ldirectord.cf:3: checktype=on: check type off, every real counts as up (as before); a failed real keeps receiving traffic until a check is added"},
				notWarns: []string{"not an ldirectord check type"}}},
		{name: "checktype ping", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tchecktype=ping\n",
			want: want{complete: true, toml: []string{`type = "connect"`}, warns: []string{"ldirectord.cf:3: checktype=ping: hapair has no ICMP check"}}},
		{name: "checktype external", cf: "virtual=198.18.0.20:3306\n\treal=198.18.1.1 gate\n\tchecktype=external\n\tcheckcommand=\"/usr/local/bin/check-mysql --quick\"\n",
			want: want{complete: true, toml: []string{`type = "external", program = "/usr/local/bin/check-mysql", args = ["--quick"]`}}},
		{name: "checkcommand without a path", cf: "virtual=198.18.0.20:3306\n\treal=198.18.1.1 gate\n\tchecktype=external\n\tcheckcommand=check-mysql\n",
			want: want{complete: true, toml: []string{`type = "connect"`}, warns: []string{"ldirectord.cf:4: checkcommand=check-mysql: want the program's absolute path"}}},
		{name: "checktype external-perl", cf: "virtual=198.18.0.20:3306\n\treal=198.18.1.1 gate\n\tchecktype=external-perl\n\tcheckcommand=/etc/ha.d/check.pl\n",
			want: want{complete: true, toml: []string{`type = "external", program = "/etc/ha.d/check.pl"`}, warns: []string{"checktype=external-perl"}}},
		{name: "services hapair does not negotiate", cf: "virtual=198.18.0.20:25\n\treal=198.18.1.1 gate\n\tservice=smtp\n\tlogin=\"u\"\n\tpasswd=\"p\"\n\tcheckport=2525\n" +
			"virtual=198.18.0.20:443\n\treal=198.18.1.1 gate\n\tservice=https\n\trequest=\"/\"\n",
			want: want{complete: true, toml: []string{`name = "smtp-25"`, `name = "https-443"`, `check = { type = "connect", port = 2525,`},
				warns: []string{"ldirectord.cf:3: service=smtp: hapair has no smtp negotiate check; connect used", "ldirectord.cf:4: login: not carried over",
					"ldirectord.cf:9: service=https", "ldirectord.cf:10: request: not carried over"}}},
		{name: "checkport is the check's port", cf: "virtual=198.18.0.100:80\n\treal=198.18.1.11:80 masq\n\tchecktype=negotiate\n\tservice=http\n\tcheckport=8080\n\trequest=\"/health\"\n\treceive=\"up\"\n",
			want: want{complete: true, toml: []string{`check = { type = "negotiate", request = "/health", receive = "up", port = 8080, interval`}, notWarns: []string{"checkport"}}},
		{name: "checkport with an external check or out of range is not converted", cf: "virtual=198.18.0.20:3306\n\treal=198.18.1.1 gate\n\tchecktype=external\n\tcheckcommand=/etc/ha.d/check_mysql\n\tcheckport=3307\n" +
			"virtual=198.18.0.20:80\n\treal=198.18.1.1 gate\n\tchecktype=connect\n\tcheckport=99999\n" +
			"virtual=198.18.0.20:81\n\treal=198.18.1.1 gate\n\tchecktype=on\n\tcheckport=8081\n",
			want: want{warns: []string{"ldirectord.cf:5: not converted: checkport=3307: hapair's external check is given each real's own port (RPORT); have /etc/ha.d/check_mysql probe port 3307 itself",
				"ldirectord.cf:9: not converted: checkport=99999: not a port (1..65535): the check would probe each real's own port instead",
				"ldirectord.cf:13: checkport=8081: not carried over: this service runs no check"}}},
		{name: "udp sip service", cf: "virtual=198.18.0.20:5060\n\treal=198.18.1.1 masq\n\tprotocol=udp\n\tservice=sip\n\tscheduler=sh\n\tpersistent=600\n\tnetmask=255.255.255.0\n",
			want: want{complete: true, toml: []string{`protocol = "udp"`, `type = "sip"`, `scheduler = "sh"`, `persistent = "600s"`},
				warns: []string{"ldirectord.cf:7: netmask=255.255.255.0: not carried over"}}},
		{name: "udp service hapair cannot check", cf: "virtual=198.18.0.20:53\n\treal=198.18.1.1 gate\n\tprotocol=udp\n\tservice=dns\n",
			want: want{complete: true, toml: []string{`check = { type = "off" }`}, warns: []string{"ldirectord.cf:4: service=dns over udp: hapair checks udp reals with sip or external only; check type off used"}}},
		{name: "schedulers hapair lacks", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tchecktype=connect\n\tscheduler=lblc\nvirtual=198.18.0.20:81\n\treal=198.18.1.1:81 gate\n\tchecktype=connect\n\tscheduler=bogus\n",
			want: want{complete: true, toml: []string{`scheduler = "wlc"`}, warns: []string{"ldirectord.cf:4: scheduler=lblc: hapair has no lblc scheduler", "ldirectord.cf:8: scheduler=bogus: unknown scheduler"}}},
		{name: "forwarding methods gate, masq, ipip, mixed: each real not carried over is warned", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\treal=198.18.1.2:80 masq\n\treal=198.18.1.3:80 ipip\n\tchecktype=connect\n" +
			"virtual=198.18.0.21:80\n\treal=198.18.1.1:80 ipip\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{"ldirectord forwarded with gate (LVS-DR)", "ldirectord forwarded with ipip (LVS-TUN); hapair has no tunnel method"},
				warns: []string{"ldirectord.cf:3: real forwarded with masq while the first real of this service used gate", "ldirectord.cf:4: real forwarded with ipip while the first real of this service used gate",
					"ldirectord.cf:7: ipip: hapair has no ipip"}}},
		{name: "kernel nat where the service fits, userspace balancer where it does not", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 masq\n\tchecktype=connect\n\tscheduler=rr\n" +
			"virtual=198.18.0.20:81\n\treal=198.18.1.1:81 masq\n\tchecktype=connect\n\tscheduler=wlc\n" +
			"virtual=198.18.0.20:82\n\treal=198.18.1.1:82 masq\n\tchecktype=connect\n\tscheduler=rr\n\tfallback=127.0.0.1:80\n" +
			"virtual=[2001:db8::20]:80\n\treal=[2001:db8::1]:80 masq\n\tchecktype=connect\n\tscheduler=rr\n" +
			"virtual=198.18.0.21:80\n\treal=198.18.1.1:80 gate\n\tchecktype=connect\n\tscheduler=rr\n",
			want: want{complete: true, toml: []string{"listen = \"198.18.0.20:80\"\nmethod = \"nat\"", "nat: the reals must route their replies through the group's VIP"},
				warns: []string{`ldirectord.cf:6: masq: not forwarded by hapair's kernel "nat" method: scheduler wlc needs per-real connection counts`,
					`ldirectord.cf:10: masq: not forwarded by hapair's kernel "nat" method: a loopback fallback`, `ldirectord.cf:15: masq: not forwarded by hapair's kernel "nat" method: hapair's kernel methods are IPv4 only`,
					`ldirectord.cf:19: gate: not forwarded by hapair's kernel "dr" method: dr needs the interface`}}},
		{name: "real ranges, per-real request and receive, weights", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1->198.18.1.3:8080 gate 2 \".healthcheck.html\", \"OKAY\"\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`"198.18.1.1:8080", weight = 2`, `"198.18.1.3:8080", weight = 2`},
				warns: []string{`ldirectord.cf:2: real 198.18.1.1:8080: its request ".healthcheck.html" is not carried over: the service's check (connect) sends none`,
					`ldirectord.cf:2: real 198.18.1.3:8080: its receive "OKAY" is not carried over`}}},
		{name: "per-real request and receive with a negotiate check", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate 1 \".healthcheck.html\", \"OKAY\"\n\treal=198.18.1.2:80 gate\n" +
			"\treal=198.18.1.3:80 gate 1 \"/x\", \"(?=a)\"\n\tservice=http\n\trequest=\"/status\"\n\treceive=\"ok\"\n",
			want: want{complete: true, toml: []string{`{ address = "198.18.1.1:80", weight = 1, request = "/.healthcheck.html", receive = "OKAY" }`, `{ address = "198.18.1.2:80" }`,
				`{ address = "198.18.1.3:80", weight = 1, request = "/x" }`}, warns: []string{`ldirectord.cf:4: real 198.18.1.3:80: its receive "(?=a)" is not an RE2 regexp`}}},
		{name: "IPv6 virtual and real", cf: "virtual=[2001:db8::20]:80\n\treal=[2001:db8::1]:80 gate\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`listen = "[2001:db8::20]:80"`, `"[2001:db8::1]:80"`, `address = "2001:db8::20/128"`}}},
		{name: "service names as ports", cf: "virtual=198.18.0.20:http\n\treal=198.18.1.1:www gate\n\tchecktype=connect\n",
			want: want{complete: true, toml: []string{`listen = "198.18.0.20:80"`, `"198.18.1.1:80"`}}},
		{name: "fwmark and host-name virtuals are refused, host-name reals and fallback kept", cf: "virtual=1\n\treal=198.18.1.1:80 gate\nvirtual=www.example.com:80\n\treal=198.18.1.1:80 gate\n" +
			"virtual=198.18.0.20:80\n\treal=web1:80 gate\n\treal=Web2 gate\n\tchecktype=connect\n\tfallback=web1:8080\n",
			want: want{toml: []string{`{ address = "web1:80" }`, `{ address = "web2:80" }`, `fallback = "web1:8080"`},
				warns: []string{"ldirectord.cf:1: not converted: virtual=1: firewall-mark", "ldirectord.cf:3: not converted: virtual=www.example.com:80"}}},
		{name: "protocol fwm refused", cf: "virtual=198.18.0.20:80\n\treal=198.18.1.1:80 gate\n\tprotocol=fwm\n",
			want: want{warns: []string{"ldirectord.cf:3: not converted: protocol=fwm"}}},
		{name: "a virtual with no real", cf: "virtual=198.18.0.20:80\n\tchecktype=connect\n",
			want: want{warns: []string{"ldirectord.cf:1: not converted: virtual service 198.18.0.20:80 has no real server"}}},
		{name: "a virtual with only a fallback", cf: "virtual=198.18.0.20:80\n\tchecktype=connect\n\tfallback=127.0.0.1:80 gate\n",
			want: want{complete: true, toml: []string{`fallback = "127.0.0.1:80"`}, warns: []string{"fallback gate: the forwarding method is not carried over"}}},
		{name: "the same virtual twice", cf: web + web,
			want: want{warns: []string{"ldirectord.cf:6: not converted: tcp 198.18.0.20:80 is already the virtual service"}}},
		{name: "a wildcard virtual and an address on its port (FuzzLdirectord 5cc18beef31b12cc)", cf: "virtual=0.0.0.0:80\n\treal=198.18.1.1:80\nvirtual=198.18.0.20:80\n\treal=198.18.1.2:80\n",
			want: want{toml: []string{`listen = "0.0.0.0:80"`}, notTOML: []string{"198.18.0.20", "198.18.1.2"},
				warns: []string{"ldirectord.cf:3: not converted: tcp 198.18.0.20:80 cannot listen beside the virtual service 0.0.0.0:80 at ldirectord.cf:1"}}},
		{name: "comments, odd spacing, unindented lines, unknown directives", cf: "# global\n  checkinterval = 4   # seconds\nfrobnicate=1\nnot a directive\n" +
			"virtual = 198.18.0.20:80\nreal = 198.18.1.1:80 gate\n\tchecktype = connect\n\twibble=2\n\tchecktype=connect\nreal=198.18.1.2:80 gate\nquiescent=no\n\treal=198.18.1.9:80 gate\nrequest=\"/x\"\n",
			want: want{complete: true, toml: []string{`interval = "4s"`, `"198.18.1.2:80"`}, notTOML: []string{"198.18.1.9"},
				warns: []string{`ldirectord.cf:3: unknown ldirectord directive "frobnicate"`, `ldirectord.cf:4: "not a directive" is not a key=value directive`,
					"ldirectord.cf:6: real= is not indented", `ldirectord.cf:8: unknown ldirectord directive "wibble"`, "ldirectord.cf:9: checktype set again in this section",
					"ldirectord.cf:12: real= outside a virtual= section", "ldirectord.cf:13: request= outside a virtual= section"}}},
		{name: "ignored global directives", cf: "execute=\"other.cf\"\nfork=yes\nsupervised=yes\nmaintenancedir=/etc/ha.d/maint\nreaddquiescent=no\ncleanstop=no\nsmtp=mail.example.com\nemailalertfrom=lb@example.com\n" + web,
			want: want{complete: true, warns: []string{"ldirectord.cf:1: execute", "ldirectord.cf:2: fork", "ldirectord.cf:3: supervised", "ldirectord.cf:4: maintenancedir",
				"ldirectord.cf:5: readdquiescent", "ldirectord.cf:6: cleanstop", "ldirectord.cf:7: smtp", "ldirectord.cf:8: emailalertfrom"}}},
		{name: "empty file", cf: "",
			want: want{warns: []string{"not converted: no resource group could be imported"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { ldCase(t, tc.cf, tc.want) })
	}
}
