package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// badConfig has a misspelled key (deadtme) and a deadtime shorter than
// 2×keepalive; both must be reported, with positions.
const badConfig = `[cluster]
name = "web"
id = 7
nodes = ["lb1", "lb2"]
keepalive = "100ms"
warntime = "150ms"
deadtime = "180ms"
deadtme = "400ms"

[[link]]
kind = "mcast"
interface = "eth0"
group = "239.255.0.94"
`

var badWant = []string{
	`:7:12: cluster.deadtime: 180ms is shorter than 2×keepalive (200ms)`,
	`:8:1: cluster.deadtme: unknown key "deadtme" (did you mean "deadtime"?)`,
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckConfig(t *testing.T) {
	bad := writeFile(t, "bad.toml", badConfig)
	tests := []struct {
		desc       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"valid example", []string{"check-config", "../../deploy/web-pair.toml"}, 0,
			[]string{`../../deploy/web-pair.toml: ok: cluster "web" id 7, 2 nodes, 1 group, 2 services` + "\n"}, nil},
		{"second example", []string{"check-config", "../../deploy/sip-pair.toml"}, 0,
			[]string{`ok: cluster "sip" id 12, 2 nodes, 2 groups, 3 services`}, nil},
		{"misspelled key and short deadtime", []string{"check-config", bad}, 1,
			nil, []string{bad + badWant[0], bad + badWant[1], bad + ": 2 errors"}},
		{"missing file", []string{"check-config", bad + ".nope"}, 1,
			nil, []string{"hactl: check-config: config: stat " + bad + ".nope: no such file"}},
		{"too many args", []string{"check-config", "a", "b"}, 2, nil, []string{"usage: hactl check-config [FILE]"}},
		{"unknown verb", []string{"frobnicate"}, 2, nil, []string{`hactl: unknown command "frobnicate"`, "check-config [FILE]"}},
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
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hactl")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build hactl: %v\n%s", err, out)
	}
	bad := writeFile(t, "had.toml", badConfig)
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
