package importer

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestZeus(t *testing.T) {
	tests := []struct {
		name   string
		cfg    string
		listen string
		want   want
	}{
		{name: "every setting", listen: "198.18.0.20:80",
			cfg: "# monitor.cfg\nMASTERS = 198.18.1.1 198.18.1.2\t198.18.1.3:9080\nSLAVES=198.18.2.1:9080   198.18.2.2:9080\n" +
				"SCRIPT = /usr/local/bin/check-db SERVER=database-server\nSCRIPT = /usr/local/bin/check-nfs 'export dir'\nTIMEPERIOD = 5\n",
			want: want{complete: true, toml: []string{`listen = "198.18.0.20:80"`, `{ address = "198.18.1.1:80" }`, `{ address = "198.18.1.3:9080" }`,
				"backups = [", `{ address = "198.18.2.2:9080" }`, `{ script = "/usr/local/bin/check-db", args = ["SERVER=database-server"], interval = "5s" }`,
				`args = ["export dir"]`, `{ kind = "vip", address = "198.18.0.20/32" }`, "monitor.cfg:4"}}},
		{name: "without -listen: a documentation-range placeholder listen and VIP, not converted", cfg: "MASTERS 192.0.2.1 198.18.1.2\n",
			want: want{toml: []string{`listen = "192.0.2.2:80"`, `{ kind = "vip", address = "192.0.2.2/32" }`, `{ address = "192.0.2.1:80" }`,
				"# PLACEHOLDER listen: a documentation-range (RFC 5737) address for the Zeus service's address and port, which monitor.cfg does not say (hactl import zeus -listen ADDR:PORT)"},
				notTOML: []string{"0.0.0.0"},
				warns:   []string{`monitor.cfg: not converted: monitor.cfg does not say which address and port its pools serve: listen = "192.0.2.2:80", a documentation-range (RFC 5737) placeholder, stands in, and is the group's VIP; give the service's address with -listen ADDR:PORT`}}},
		{name: "host names", listen: "198.18.0.20:80", cfg: "MASTERS = webserver1 198.18.1.2\nSLAVES = backup2:9080\n",
			want: want{complete: true, toml: []string{`{ address = "webserver1:80" }`, `{ address = "backup2:9080" }`}, warns: []string{"SLAVES without any SCRIPT"}}},
		{name: "no masters at all", listen: "198.18.0.20:80", cfg: "SLAVES = 198.18.2.1\n",
			want: want{warns: []string{"not converted: virtual service 198.18.0.20:80 has no real server"}}},
		{name: "bad values and unknown settings", listen: "198.18.0.20:80", cfg: "MASTERS = 198.18.1.1 198.18.1.1\nTIMEPERIOD = soon\nTIMEPERIOD = 9\nLOGFILE = /tmp/x\nSCRIPT = \"unterminated\nMASTERS =\nSCRIPT = check-db\n",
			want: want{toml: []string{`{ address = "198.18.1.1:80" }`}, warns: []string{"monitor.cfg:1: real 198.18.1.1:80 listed again", `monitor.cfg:2: TIMEPERIOD "soon"`,
				"monitor.cfg:3: TIMEPERIOD without any SCRIPT", `monitor.cfg:4: unknown monitor.cfg setting "LOGFILE"`, "monitor.cfg:5: not converted: SCRIPT", "monitor.cfg:6: MASTERS set again", "monitor.cfg:6: MASTERS is empty", "monitor.cfg:7: not converted: SCRIPT check-db: want the program's absolute path"}}},
		{name: "SCRIPT without SLAVES is not carried over", listen: "198.18.0.20:80", cfg: "MASTERS = 198.18.1.1\nSCRIPT = /usr/local/bin/check-db\nTIMEPERIOD = 5\n",
			want: want{complete: true, notTOML: []string{"monitors", "check-db"},
				warns: []string{"monitor.cfg:2: SCRIPT /usr/local/bin/check-db: not carried over: there are no SLAVES to move to (Zeus took every master out of service on FAIL, leaving none; hapair's monitors only move new connections to the backups)"}}},
		{name: "the same SCRIPT twice is merged", listen: "198.18.0.20:80", cfg: "MASTERS = 198.18.1.1\nSCRIPT = /bin/check a\nSCRIPT = /bin/check  a\nSCRIPT = /bin/check b\nSLAVES = 198.18.2.1\n",
			want: want{complete: true, toml: []string{"# NOTE: monitor /bin/check at monitor.cfg:3 is the one at monitor.cfg:2 again: merged", `args = ["b"]`},
				notTOML: []string{"monitor.cfg:3\n"}, warns: []string{"monitor.cfg:3: monitor /bin/check listed again with the same arguments (first at monitor.cfg:2); merged"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.want.check(t, zeus("monitor.cfg", []byte(tc.cfg), tc.listen)) })
	}
}

// TestZeusListen holds Zeus to what -listen takes: an address and a port
// as ldirectord's virtual= takes them (IPv4-mapped addresses unmapped),
// or an error naming it; a multicast address is refused as a VIP.
func TestZeusListen(t *testing.T) {
	path := filepath.Join(writeDir(t, map[string]string{"monitor.cfg": "MASTERS = 198.18.1.1\n"}), "monitor.cfg")
	for _, bad := range []string{"[fe80::1%eth0]:80", "198.18.0.20:0", "web:80", "198.18.0.20"} {
		if _, err := Zeus(path, bad); err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("Zeus(-listen %s) error = %v, want one naming it", bad, err)
		}
	}
	res, err := Zeus(path, "[::ffff:198.18.0.20]:80")
	if err != nil {
		t.Fatal(err)
	}
	want{complete: true, toml: []string{`listen = "198.18.0.20:80"`, `{ kind = "vip", address = "198.18.0.20/32" }`}}.check(t, res)
	res, err = Zeus(path, "224.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	want{notTOML: []string{"224.0.0.1"}, warns: []string{"not converted: virtual service 224.0.0.1:80: no node can hold 224.0.0.1 as a VIP ("}}.check(t, res)
}
