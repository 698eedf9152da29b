package main

import (
	"bytes"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestCheckConfigHostFacts runs check-config on this host, as node lb1:
// interfaces and this node's own link address must be here (had opens its
// links at start and takes the VIP's interface at a takeover), and the
// summary says the host was checked; --no-host leaves them out and says so.
func TestCheckConfigHostFacts(t *testing.T) {
	ifis, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ifi := range ifis {
		names = append(names, ifi.Name)
	}
	slices.Sort(names)
	has := strings.Join(names, ", ")
	// Every host has lo with 127.0.0.1; hapair-none0 is no interface.
	onLo := replace(t, caseBase, `peers = {`, `interface = "lo"
peers = {`)
	onLo = replace(t, onLo, `lb1 = "198.18.1.11"`, `lb1 = "127.0.0.1"`)
	onLo = replace(t, onLo, `interface = "eth0"`, `interface = "lo"`)
	missing := replace(t, onLo, `interface = "lo"
peers`, `interface = "hapair-none0"
peers`)
	missing = replace(t, missing, `lb1 = "127.0.0.1"`, `lb1 = "198.18.1.11"`)
	missing = replace(t, missing, `interface = "lo" }`, `interface = "hapair-none1" }`)
	nonlocal, _ := os.ReadFile("/proc/sys/net/ipv4/ip_nonlocal_bind")
	tests := []struct {
		desc string
		body string
		args []string
		code int
		want []string // stdout for 0, else stderr; FILE is the path
	}{
		{"on this host", onLo, []string{"--node", "lb1"}, exitOK, []string{
			`FILE: config ok: nodes lb1 and lb2 in cluster "web" id 7, 1 group, 1 service; authkeys AUTHKEYS ok (1 key, signing with 1); this host checked as lb1`,
		}},
		{"missing here", missing, []string{"--node", "lb1"}, exitFail, withoutNonlocal(string(nonlocal), []string{
			`FILE:9:13: link[0].interface: interface "hapair-none0" is not on this host (it has ` + has + `): had fails to open link ucast0 at start`,
			`FILE:10:17: link[0].peers.lb1: 198.18.1.11 is this node's (lb1) address on link ucast0, and no interface of this host holds it: had binds it at start and would fail`,
			`FILE:16:60: group[0].resources[0].interface: interface "hapair-none1" is not on this host (it has ` + has + `): taking group "web" over would fail`,
		})},
		{"missing here, for another machine", missing, []string{"--no-host"}, exitOK, []string{
			`FILE: config ok: nodes lb1 and lb2 in cluster "web" id 7, 1 group, 1 service; authkeys AUTHKEYS ok (1 key, signing with 1); host facts not checked`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := writeCase(t, tt.body)
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"check-config"}, append(tt.args, path)...), &stdout, &stderr)
			out := stderr.String()
			if tt.code == exitOK {
				out = stdout.String()
			}
			want := strings.Join(tt.want, "\n") + "\n"
			want = strings.ReplaceAll(strings.ReplaceAll(want, "FILE", path), "AUTHKEYS", strings.TrimSuffix(path, "svc.toml")+"authkeys")
			if code != tt.code || out != want {
				t.Errorf("hactl check-config %q = %d, output:\n%s\nwant %d:\n%s(stderr %q)", tt.args, code, out, tt.code, want, stderr.String())
			}
		})
	}
}

// withoutNonlocal is the expected error lines and their count, without the
// own-address one when net.ipv4.ip_nonlocal_bind is 1 (the bind would work).
func withoutNonlocal(sysctl string, lines []string) []string {
	if strings.TrimSpace(sysctl) == "1" {
		lines = slices.DeleteFunc(lines, func(s string) bool { return strings.Contains(s, "peers.lb1") })
	}
	return append(lines, "FILE: "+plural(len(lines), "error"))
}
