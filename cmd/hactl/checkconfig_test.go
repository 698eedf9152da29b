package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/node/nodetest"
)

// badConfig is caseBase with a misspelled key (deadtme) and a deadtime
// shorter than 2×keepalive; both must be reported, with positions.
func badConfig(t *testing.T) string {
	return replace(t, caseBase, "nodes = [\"lb1\", \"lb2\"]\n", `nodes = ["lb1", "lb2"]
keepalive = "100ms"
warntime = "150ms"
deadtime = "180ms"
deadtme = "400ms"
`)
}

var badWant = []string{
	`:7:12: cluster.deadtime: 180ms must be longer than 2×keepalive (200ms)`,
	`:8:1: cluster.deadtme: unknown key "deadtme" (did you mean "deadtime"?)`,
}

func TestCheckConfig(t *testing.T) {
	bad := writeCase(t, badConfig(t))
	web, webKeys := nodetest.Example(t, "web-pair.toml", 0o600)
	sip, _ := nodetest.Example(t, "sip-pair.toml", 0o600)
	tests := []struct {
		desc       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		// The examples are for lb1 and lb2, not this host: --no-host.
		{"valid example", []string{"check-config", "--no-host", web}, 0,
			[]string{web + `: config ok: nodes lb1 and lb2 in cluster "web" id 7, 1 group, 2 services; authkeys ` + webKeys + " ok (2 keys, signing with 2); host facts not checked\n"}, nil},
		{"flag after the file", []string{"check-config", web, "--no-host"}, 0,
			[]string{"; host facts not checked\n"}, nil},
		{"-c before the verb", []string{"-c", web, "check-config", "--no-host"}, 0,
			[]string{web + ": config ok: "}, nil},
		{"-c and a file", []string{"-c", web, "check-config", "--no-host", web}, 2, nil, []string{"usage: hactl check-config"}},
		{"second example", []string{"check-config", "--no-host", sip}, 0,
			[]string{`config ok: nodes sip-lb-a and sip-lb-b in cluster "sip" id 12, 2 groups, 3 services; authkeys `}, nil},
		{"version", []string{"--version"}, 0, []string{"hactl "}, nil},
		{"misspelled key and short deadtime", []string{"check-config", bad}, 1,
			nil, []string{bad + badWant[0], bad + badWant[1], bad + ": 2 errors"}},
		{"missing file", []string{"check-config", bad + ".nope"}, 1,
			nil, []string{"hactl: check-config: cannot read " + bad + ".nope: no such file or directory\n"}},
		{"too many args", []string{"check-config", "a", "b"}, 2, nil, []string{"hactl: check-config: one config file at a time, got [\"a\" \"b\"]\nusage: hactl check-config [--node NAME | --no-host] [FILE]"}},
		{"node and no-host", []string{"check-config", "--node", "lb1", "--no-host", web}, 2, nil,
			[]string{"hactl: check-config: --node lb1 checks this host as that node, --no-host leaves the host out: give one\nusage: hactl check-config [--node NAME | --no-host] [FILE]"}},
		{"unknown verb", []string{"frobnicate"}, 2, nil, []string{`hactl: unknown command "frobnicate"`, "check-config [--node NAME | --no-host] [FILE]"}},
		{"no verb", nil, 2, nil, []string{"usage: hactl COMMAND"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d (stderr %q)", tt.args, code, tt.wantCode, stderr.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), w)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), w)
				}
			}
		})
	}
}

// TestCheckConfigBinary runs the real hactl binary, as an operator would.
func TestCheckConfigBinary(t *testing.T) {
	bin := testkit.BuildBinary(t, "hactl")
	bad := writeCase(t, badConfig(t))
	cmd := exec.Command(bin, "check-config", bad)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("hactl check-config %s: err = %v, want exit status 1", bad, err)
	}
	for _, w := range badWant {
		if !strings.Contains(stderr.String(), bad+w) {
			t.Errorf("hactl check-config stderr = %q, want it to contain %q", stderr.String(), bad+w)
		}
	}
}

// TestCheckConfigAuthkeys is issue 8 case 7: check-config used to say ok
// with the authkeys file missing or readable by others, and had then
// refused to start. It now checks the file as had does.
func TestCheckConfigAuthkeys(t *testing.T) {
	cfg, keys := nodetest.Example(t, "web-pair.toml", 0o644)
	// Each error names both places: the key in the config, the file's own.
	at := cfg + ":17:12: cluster.authkeys: "
	cases := []struct {
		desc  string
		setup func()
		want  string
	}{
		{"mode 0644", func() {}, at + keys + ": mode 0644 gives group or others access to the keys, want 0600 (fix: chmod 600 " + keys + ")\n" + cfg + ": 1 error\n"},
		{"bad lines", func() { os.WriteFile(keys, []byte("auth 2\n1 sha256\n2 crc x\n"), 0o600); os.Chmod(keys, 0o600) }, at + keys + ":2:9: key 1: sha256 needs a secret (\"1 sha256 SECRET\")\n" +
			at + keys + ":3:3: key 2: method crc refused: crc is a checksum, not a MAC: anyone on the link could forge heartbeats; use sha256\n" +
			cfg + ": 2 errors\n"},
		{"missing", func() { os.Remove(keys) }, at + "cannot read " + keys + ": no such file or directory\n" + cfg + ": 1 error\n"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			c.setup()
			var stdout, stderr bytes.Buffer
			if code := run([]string{"check-config", "--no-host", cfg}, &stdout, &stderr); code != exitFail {
				t.Errorf("check-config = %d, want %d", code, exitFail)
			}
			if stderr.String() != c.want || stdout.Len() != 0 {
				t.Errorf("check-config stdout %q stderr %q,\nwant stderr %q", stdout.String(), stderr.String(), c.want)
			}
		})
	}
}

// TestCheckConfigRelativeAuthkeys: a relative authkeys path is the config
// file's directory's, and the summary names the file read, not "authkeys
// authkeys ok" for a config in the working directory.
func TestCheckConfigRelativeAuthkeys(t *testing.T) {
	path := writeCase(t, caseBase) // authkeys = "authkeys", beside it
	dir := filepath.Dir(path)
	t.Chdir(dir)
	code, stdout, stderr := runHactl("check-config", "--no-host", "svc.toml")
	want := `svc.toml: config ok: nodes lb1 and lb2 in cluster "web" id 7, 1 group, 1 service; authkeys ` + filepath.Join(dir, "authkeys") + " ok (1 key, signing with 1); host facts not checked\n"
	if code != exitOK || stdout != want {
		t.Errorf("check-config svc.toml in its directory = exit %d, stdout:\n%s\nwant 0 and:\n%s\nstderr: %s", code, stdout, want, stderr)
	}
}
