package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies an importer seed directory, authkeys at mode 0600.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(from, "*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const seeds = "../internal/importer/testdata/seeds/"

func TestImport(t *testing.T) {
	um := copyDir(t, seeds+"ultramonkey")
	hb2 := copyDir(t, seeds+"haproxy-heartbeat2")
	out := filepath.Join(t.TempDir(), "had.toml")
	// Imports without Heartbeat's authkeys name "authkeys" next to
	// had.toml, for the operator to write; here it is written.
	if err := os.WriteFile(filepath.Join(filepath.Dir(out), "authkeys"), []byte("auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout []string
		wantStderr []string
		wantFile   string // -o target that must then pass check-config
	}{
		{"Ultra Monkey to stdout", []string{"import", "heartbeat", um}, "", 0,
			[]string{"[cluster]  # from " + um + "/ha.cf", `services = ["http-9072", "sip-7072"]`}, []string{um + "/ldirectord.cf:8: autoreload: not carried over"}, ""},
		{"Ultra Monkey to a file", []string{"import", "heartbeat", um, "-o", out}, "", 0, nil, nil, out},
		{"-o before the source", []string{"import", "ldirectord", "-o", out, um + "/ldirectord.cf"}, "", 0, nil, []string{"no cluster in this file"}, out},
		{"incomplete: exit 1 and still valid TOML", []string{"import", "heartbeat", "-o", out, hb2}, "", 1, nil,
			[]string{hb2 + "/ha.cf:15: not converted: ucast eth1: no address for node lb2", "hactl: import: incomplete"}, out},
		{"ipvsadm from stdin", []string{"import", "ipvsadm", "-"}, "-A -t 198.18.0.20:80 -s rr\n-a -t 198.18.0.20:80 -r 198.18.1.1 -m\n", 0,
			[]string{`listen = "198.18.0.20:80"`, `method = "nat"`}, []string{"stdin:1: ipvsadm rules have no health check"}, ""},
		// The Zeus names stay names (had resolves them); no check-config
		// here, which would look them up.
		{"zeus with -listen", []string{"import", "zeus", "-listen", "198.18.0.20:80", seeds + "zeus/monitor.cfg"}, "", 0,
			[]string{`listen = "198.18.0.20:80"`, `{ address = "webserver3:9080" }`, `{ script = "/usr/local/bin/check-db", args = ["SERVER=database-server"], interval = "5s" }`}, nil, ""},
		{"zeus without -listen: a placeholder, exit 1", []string{"import", "zeus", seeds + "zeus/monitor.cfg"}, "", 1,
			[]string{`listen = "192.0.2.1:80"`, "# PLACEHOLDER listen"}, []string{seeds + `zeus/monitor.cfg: not converted: monitor.cfg does not say which address and port its pools serve: listen = "192.0.2.1:80", a documentation-range (RFC 5737) placeholder, stands in, and is the group's VIP; give the service's address with -listen ADDR:PORT` + "\n", "hactl: import: incomplete"}, ""},
		{"zeus with a bad -listen", []string{"import", "zeus", "-listen", "nowhere", seeds + "zeus/monitor.cfg"}, "", 2, nil, []string{`zeus listen address "nowhere"`}, ""},
		{"missing directory", []string{"import", "heartbeat", um + "/nope"}, "", 2, nil, []string{"hactl: import: cannot read " + um + "/nope/ha.cf: no such file or directory\n"}, ""},
		{"unknown format", []string{"import", "keepalived", "x"}, "", 2, nil, []string{`unknown format "keepalived"`}, ""},
		{"no source", []string{"import", "heartbeat"}, "", 2, nil, []string{"usage: hactl import"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.stdin != "" {
				f := filepath.Join(t.TempDir(), "stdin")
				if err := os.WriteFile(f, []byte(tc.stdin), 0o600); err != nil {
					t.Fatal(err)
				}
				in, err := os.Open(f)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				old := os.Stdin
				os.Stdin = in
				defer func() { os.Stdin = old }()
			}
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			for _, s := range tc.wantStdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tc.wantStderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
			if tc.wantFile != "" {
				if stdout.Len() != 0 {
					t.Errorf("with -o, stdout = %q, want nothing", stdout.String())
				}
				var co, ce bytes.Buffer
				// The import is for the old cluster's machines: --no-host.
				if code := run([]string{"check-config", "--no-host", tc.wantFile}, &co, &ce); code != 0 {
					t.Errorf("check-config of the import: exit %d\n%s", code, ce.String())
				}
			}
		})
	}
}

// TestImportRefusesItsSource: -o naming a file the import read (also
// through a symbolic link, or the ldirectord.cf a haresources line names)
// is refused before anything is written, and the source is left as it was.
func TestImportRefusesItsSource(t *testing.T) {
	um := copyDir(t, seeds+"ultramonkey")
	link := filepath.Join(t.TempDir(), "had.toml")
	if err := os.Symlink(filepath.Join(um, "ha.cf"), link); err != nil {
		t.Fatal(err)
	}
	ld := filepath.Join(um, "ldirectord.cf")
	tests := []struct {
		desc   string
		args   []string
		source string // the file that must not change
		stderr string
	}{
		{"ldirectord -o its own file", []string{"import", "ldirectord", ld, "-o", ld}, ld,
			"hactl: import: -o " + ld + " is the source " + ld + ": writing there would destroy the setup being imported; give another file\n"},
		{"heartbeat -o a link to its ha.cf", []string{"import", "heartbeat", um, "-o", link}, filepath.Join(um, "ha.cf"),
			"hactl: import: -o " + link + " is the source " + um + "/ha.cf: writing there would destroy the setup being imported; give another file\n"},
		{"heartbeat -o the ldirectord.cf its haresources names", []string{"import", "heartbeat", "-o", um + "/./ldirectord.cf", um}, ld,
			"hactl: import: -o " + um + "/./ldirectord.cf is the source " + ld + ": writing there would destroy the setup being imported; give another file\n"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			before, err := os.ReadFile(tc.source)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if stderr.String() != tc.stderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), tc.stderr)
			}
			if after, _ := os.ReadFile(tc.source); !bytes.Equal(after, before) {
				t.Errorf("%s changed:\n%s", tc.source, after)
			}
		})
	}
}

// TestImportWriteFailsWhole: an -o that is a directory is refused before
// anything is written, saying so, and leaves no temporary or partial file
// behind.
func TestImportWriteFailsWhole(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "had.toml")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"import", "ldirectord", "-o", out, seeds + "ultramonkey/ldirectord.cf"}, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if want := "hactl: import: -o " + out + " is a directory: give the file to write, e.g. -o " + out + "/had.toml\n"; stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant %q", stderr.String(), want)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".had.toml.tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("%s holds %d entries, want none", out, len(ents))
	}
}

// TestCheckConfigWarnsOfPlaceholders: an import's documentation-range
// (RFC 5737) placeholder passes check-config, which warns about it at each
// key that holds it.
func TestCheckConfigWarnsOfPlaceholders(t *testing.T) {
	out := filepath.Join(t.TempDir(), "z.toml")
	if err := os.WriteFile(filepath.Join(filepath.Dir(out), "authkeys"), []byte("auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"import", "zeus", "-o", out, seeds + "zeus/monitor.cfg"}, &stdout, &stderr); code != exitFail {
		t.Fatalf("import: exit %d, want %d (the listen is a placeholder)\n%s", code, exitFail, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check-config", "--no-host", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("check-config: exit %d, want %d\n%s", code, exitOK, stderr.String())
	}
	const why = ": 192.0.2.1 is in 192.0.2.0/24, reserved for documentation (RFC 5737): if it is a placeholder (hactl import writes one where its source gives no address), put the site's address here"
	want := "hactl: check-config: warning: " + out + ":25:29: group[0].resources[0].address" + why + "\n" +
		"hactl: check-config: warning: " + out + ":33:10: service[0].listen" + why + "\n"
	if stderr.String() != want {
		t.Errorf("check-config stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
}
