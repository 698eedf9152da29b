package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
)

// caseBase is a valid config the issue's cases edit: a pair on a unicast
// heartbeat link, then configtest's group (one VIP) and service with the
// check written out and the real on a backend's address, off the
// heartbeat LAN (configtest's real is lb1's heartbeat address here; a
// case that listens on 0.0.0.0 would forward to itself). A case whose
// edit finds no check or real line fails: the base drifted.
var caseBase = `[cluster]
name = "web"
id = 7
nodes = ["lb1", "lb2"]
authkeys = "authkeys"

[[link]]
kind = "ucast"
peers = { lb1 = "198.18.1.11", lb2 = "198.18.1.12" }
` + strings.Replace(configtest.Service, `reals = [ { address = "198.18.1.11:80" } ]`, `check = { type = "connect" }
reals = [ { address = "198.18.1.21:80" } ]`, 1)

// writeCase writes body as svc.toml next to a valid authkeys file and
// returns its path.
func writeCase(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	keys := "auth 1\n1 sha256 0b5c4f0a6a3e1d2f9c8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a\n"
	if err := os.WriteFile(filepath.Join(dir, "authkeys"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "svc.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func replace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("base config has no %q", old)
	}
	return strings.Replace(s, old, new, 1)
}

// edit is a case's body: base with the first old replaced by new (the
// case fails when base has no old).
func edit(base, old, new string) func(t *testing.T) string {
	return func(t *testing.T) string { return replace(t, base, old, new) }
}

// manyGroups returns caseBase with n-1 more groups, each holding a script.
func manyGroups(n int) string {
	var b strings.Builder
	b.WriteString(caseBase)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "\n[[group]]\nname = \"g%d\"\npreferred = \"lb2\"\nresources = [ { kind = \"script\", path = \"mailq\" } ]\n", i)
	}
	return b.String()
}

// TestCheckConfigIssueCases runs the configs of issue 8 that `hactl
// check-config` used to pass while had refused or misread them; each must
// now fail with exit status 1 and exactly these lines (FILE stands for the
// file's path). Case 7 (authkeys) belongs to the authkeys check.
func TestCheckConfigIssueCases(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"1 receive with type http", edit(caseBase, `check = { type = "connect" }`, `check = { type = "http", request = "/status", receive = "ok" }`), []string{
			`FILE:22:47: service[0].check.receive: key "receive" is not used by check type "http" (only by negotiate, a number N)`,
		}},
		{"2 request and status with connect", edit(caseBase, `check = { type = "connect" }`, `check = { type = "connect", request = "/x", status = 200 }`), []string{
			`FILE:22:29: service[0].check.request: key "request" is not used by check type "connect" (only by negotiate, http, a number N)`,
			`FILE:22:45: service[0].check.status: key "status" is not used by check type "connect" (only by negotiate, http, a number N)`,
		}},
		{"3a keepalive not whole microseconds", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"100500ns\"\n"), []string{
			`FILE:4:13: cluster.keepalive: 100.5µs is not a whole number of microseconds, the unit a heartbeat packet carries`,
		}},
		{"3b keepalive too long for the packet", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"2h\"\n"), []string{
			`FILE:4:13: cluster.keepalive: 2h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries`,
		}},
		{"4 more groups than a packet carries", func(t *testing.T) string {
			return manyGroups(66)
		}, []string{
			`FILE:340:3: group[64]: group 65 of 66: a heartbeat packet carries at most 64 groups`,
		}},
		{"5 unicast peer with IPv6", edit(caseBase, `lb2 = "198.18.1.12"`, `lb2 = "2001:db8::12"`), []string{
			`FILE:9:38: link[0].peers.lb2: 2001:db8::12 is not an IPv4 address; links carry IPv4 only (the TTL-255 guard reads IPv4 control messages)`,
		}},
		{"6 relative notify path", edit(caseBase, "id = 7\n", "id = 7\nnotify = \"notify.sh\"\n"), []string{
			`FILE:4:10: cluster.notify: "notify.sh": want an absolute path`,
		}},
		{"8a real equal to listen", edit(caseBase, `reals = [ { address = "198.18.1.21:80" } ]`, `reals = [ { address = "198.18.0.100:80" } ]`), []string{
			`FILE:23:23: service[0].reals[0].address: 198.18.0.100:80 is the service's own listen address 198.18.0.100:80: it would forward to itself`,
		}},
		{"8b fallback equal to listen", edit(caseBase, "check = {", "fallback = \"198.18.0.100\"\ncheck = {"), []string{
			`FILE:22:12: service[0].fallback: 198.18.0.100:80 is the service's own listen address 198.18.0.100:80: it would forward to itself`,
		}},
		{"8c wildcard listen with a local real on its port", func(t *testing.T) string {
			s := replace(t, caseBase, `listen = "198.18.0.100:80"`, `listen = "0.0.0.0:80"`)
			return replace(t, s, `reals = [ { address = "198.18.1.21:80" } ]`, `reals = [ { address = "127.0.0.1:80" }, { address = "198.18.0.100:80" } ]`)
		}, []string{
			`FILE:23:23: service[0].reals[0].address: 127.0.0.1:80 is the service's own listen address 0.0.0.0:80: it would forward to itself`,
			`FILE:23:53: service[0].reals[1].address: 198.18.0.100:80 is the service itself: it listens on 0.0.0.0:80, and 198.18.0.100 is a VIP of group "web" (FILE:15:29); it would forward to itself`,
		}},
		{"9 VIP equal to a node's heartbeat address", func(t *testing.T) string {
			return replace(t, caseBase, `  { kind = "balancer"`, `  { kind = "vip", address = "198.18.1.12/24", interface = "eth1" },
  { kind = "balancer"`)
		}, []string{
			`FILE:16:29: group[0].resources[1].address: VIP 198.18.1.12 is node lb2's heartbeat address on link ucast0 (FILE:9:38): the group's owner would take it from that node and cut its heartbeat`,
		}},
	})
	// The base itself is valid, so each case fails only for its edit.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", "--no-host", writeCase(t, caseBase)}, &stdout, &stderr); code != exitOK {
		t.Errorf("hactl check-config (base) = %d, stderr %q; want %d", code, stderr.String(), exitOK)
	}
}

// checkCase is a config that `hactl check-config --no-host` must refuse
// with exit status 1 and exactly want (FILE stands for the file's path),
// then the error count.
type checkCase struct {
	desc string
	body func(t *testing.T) string
	want []string
}

// runCheckCases runs each case on a config for lb1 and lb2, so with host
// facts off.
func runCheckCases(t *testing.T, tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := writeCase(t, tt.body(t))
			var stdout, stderr bytes.Buffer
			code := run([]string{"check-config", "--no-host", path}, &stdout, &stderr)
			want := strings.ReplaceAll(strings.Join(tt.want, "\n"), "FILE", path) + "\n" + path + ": " + plural(len(tt.want), "error") + "\n"
			if code != exitFail || stderr.String() != want {
				t.Errorf("hactl check-config = %d, stderr:\n%s\nwant %d, stderr:\n%s", code, stderr.String(), exitFail, want)
			}
		})
	}
}
