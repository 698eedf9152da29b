package main

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
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
	onLo = replace(t, onLo, `lb1 = "198.18.1.11", lb2 = "198.18.1.12"`, `lb1 = "127.0.0.1", lb2 = "127.0.0.2"`)
	onLo = replace(t, onLo, `interface = "eth0"`, `interface = "lo"`)
	missing := replace(t, onLo, `interface = "lo"
peers`, `interface = "hapair-none0"
peers`)
	missing = replace(t, missing, `lb1 = "127.0.0.1", lb2 = "127.0.0.2"`, `lb1 = "198.18.1.11", lb2 = "198.18.1.12"`)
	missing = replace(t, missing, `interface = "lo" }`, `interface = "hapair-none1" }`)
	// A socket in a directory others can write (/tmp without a private
	// directory) is refused by had at start.
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	openSocket := replace(t, onLo, "id = 7\n", "id = 7\nsocket = \""+shared+"/had.sock\"\n")
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
		{"socket directory others can write", openSocket, []string{"--node", "lb1"}, exitFail, []string{
			`FILE:4:10: cluster.socket: socket directory ` + shared + `: ` + shared + ` has mode 0777 (owner uid ` + strconv.Itoa(os.Geteuid()) + `): group or others can write it and replace the control socket; fix: chmod go-w ` + shared + `, or use a private directory such as /run/hapair: had refuses to start`,
			`FILE: 1 error`,
		}},
		{"state directory is a file", replace(t, onLo, "id = 7\n", "id = 7\nstate_dir = \"/proc/version\"\n"), []string{"--node", "lb1"}, exitFail, []string{
			`FILE:4:13: cluster.state_dir: state directory /proc/version: /proc/version is not a directory (mode -r--r--r--): had refuses to start`,
			`FILE: 1 error`,
		}},
		{"state directory under /proc", replace(t, onLo, "id = 7\n", "id = 7\nstate_dir = \"/proc/hapair\"\n"), []string{"--node", "lb1"}, exitFail, []string{
			`FILE:4:13: cluster.state_dir: state directory /proc/hapair: /proc is on proc, a kernel pseudo file system, not storage: had refuses to start`,
			`FILE: 1 error`,
		}},
		{"socket under /sys", replace(t, onLo, "id = 7\n", "id = 7\nsocket = \"/sys/hapair/had.sock\"\n"), []string{"--node", "lb1"}, exitFail, []string{
			`FILE:4:10: cluster.socket: socket directory /sys/hapair: /sys is on sysfs, a kernel pseudo file system, not storage: had refuses to start`,
			`FILE: 1 error`,
		}},
		{"missing here, for another machine", missing, []string{"--no-host"}, exitOK, []string{
			`FILE: config ok: nodes lb1 and lb2 in cluster "web" id 7, 1 group, 1 service; authkeys AUTHKEYS ok (1 key, signing with 1); host facts not checked`,
		}},
	}
	// A VIP that is this host's own address (any non-loopback IPv4 one it
	// has) is never taken over: ha/vip refuses an address it did not add.
	if dev, own, ok := ownAddress(ifis); ok {
		body := replace(t, onLo, `{ kind = "vip", address = "198.18.0.100/24", interface = "lo" }`,
			`{ kind = "vip", address = "`+own.String()+`", interface = "`+dev+`" }`)
		body = replace(t, body, `listen = "198.18.0.100:80"`, `listen = "`+own.Addr().String()+`:80"`)
		tests = append(tests, struct {
			desc string
			body string
			args []string
			code int
			want []string
		}{"VIP is this host's own address", body, []string{"--node", "lb1"}, exitFail, []string{
			`FILE:16:29: group[0].resources[0].address: ` + own.Addr().String() + ` is already on ` + dev + ` of this host, and hapair did not add it (the host's own address, or another tool's): hapair never takes such an address over, so taking group "web" over would fail`,
			`FILE: 1 error`,
		}})
	} else {
		t.Log("no non-loopback IPv4 address on this host: the own-address case is not run")
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

// TestCheckConfigPrograms: on the node itself every program the config
// names must be there and executable, each reported at its key: had runs
// none of them before it needs them (a transition, a takeover, a probe),
// so a missing one passed the start and then failed every time. --no-host
// leaves them out: they are on the other machine.
func TestCheckConfigPrograms(t *testing.T) {
	dir := t.TempDir()
	prog := dir + "/notexec.sh"
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := replace(t, caseBase, `peers = {`, `interface = "lo"
peers = {`)
	body = replace(t, body, `lb1 = "198.18.1.11", lb2 = "198.18.1.12"`, `lb1 = "127.0.0.1", lb2 = "127.0.0.2"`)
	body = replace(t, body, `interface = "eth0"`, `interface = "lo"`)
	body = replace(t, body, "id = 7\n", "id = 7\nnotify = \""+prog+"\"\n")
	body = replace(t, body, `  { kind = "balancer"`, `  { kind = "script", path = "hapair-no-such-script" },
  { kind = "balancer"`)
	body = replace(t, body, `check = { type = "connect" }`, `check = { type = "external", program = "`+dir+`/missing" }`)
	body += "monitors = [ { script = \"" + prog + "\" } ]\nbackups = [ { address = \"198.18.1.31:80\" } ]\n\n[[track]]\nname = \"db\"\nscript = \"" + prog + "\"\n"
	path := writeCase(t, body)
	want := strings.ReplaceAll(strings.Join([]string{
		`FILE:4:10: cluster.notify: PROG is not executable (mode 0644): had runs it at every transition`,
		`FILE:18:29: group[0].resources[1].path: resource script "hapair-no-such-script": no executable file of that name in /etc/hapair/resource.d, /etc/ha.d/resource.d, /etc/init.d: taking group "web" over would fail`,
		`FILE:25:40: service[0].check.program: DIR/missing: no such file or directory: had runs it to probe every real: each would count as down`,
		`FILE:27:25: service[0].monitors[0].script: PROG is not executable (mode 0644): had runs it every interval: the service would switch to its backups`,
		`FILE:32:10: track[0].script: PROG is not executable (mode 0644): had runs it every interval, and a run that cannot start fails: every group's priority would drop by its weight`,
		`FILE: 5 errors`,
	}, "\n")+"\n", "PROG", prog)
	want = strings.ReplaceAll(strings.ReplaceAll(want, "FILE", path), "DIR", dir)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", "--node", "lb1", path}, &stdout, &stderr); code != exitFail || stderr.String() != want {
		t.Errorf("hactl check-config --node lb1 = %d, stderr:\n%s\nwant %d:\n%s", code, stderr.String(), exitFail, want)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check-config", "--no-host", path}, &stdout, &stderr); code != exitOK || !strings.HasSuffix(stdout.String(), "; host facts not checked\n") {
		t.Errorf("hactl check-config --no-host = %d, stdout %q stderr %q; want %d, host facts not checked", code, stdout.String(), stderr.String(), exitOK)
	}
}

// ownAddress is a non-loopback IPv4 address of this host, with its prefix
// and interface.
func ownAddress(ifis []net.Interface) (string, netip.Prefix, bool) {
	for _, ifi := range ifis {
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				p, err := netip.ParsePrefix(ipn.String())
				if err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
					return ifi.Name, p, true
				}
			}
		}
	}
	return "", netip.Prefix{}, false
}
