package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/node"
	"github.com/hapair/hapair/node/nodetest"
)

// setup writes the web-pair example where a test can build it
// (nodetest.Sandbox), with an authkeys file holding a legacy md5 key 1 and
// signing with sha256 key 2, of the given mode; it returns the config and
// authkeys paths.
func setup(t *testing.T, mode os.FileMode) (cfgPath, keyPath string) {
	t.Helper()
	cfgPath, keyPath = nodetest.Example(t, "web-pair.toml", 0o600)
	if err := os.WriteFile(keyPath, []byte("auth 2\n1 md5 old-secret-from-heartbeat\n2 sha256 0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyPath, mode); err != nil {
		t.Fatal(err)
	}
	return cfgPath, keyPath
}

func TestLoad(t *testing.T) {
	cfgPath, keyPath := setup(t, 0o600)
	cfg, kr, warns, err := node.Load(cfgPath, "lb2")
	if err != nil {
		t.Fatalf("node.Load(%s, lb2) error = %v", cfgPath, err)
	}
	if cfg.Cluster.Authkeys != keyPath || kr.SignKeyID() != 2 {
		t.Errorf("node.Load() authkeys %s sign key %d, want %s and 2", cfg.Cluster.Authkeys, kr.SignKeyID(), keyPath)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "key 1 uses md5") {
		t.Errorf("node.Load() warnings = %q, want one about md5", warns)
	}
}

func TestLoadErrors(t *testing.T) {
	cfgPath, keyPath := setup(t, 0o644)
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[cluster]\nnmae = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc, path, node string
		want             []string
	}{
		{"authkeys 0644", cfgPath, "lb1", []string{keyPath + ": mode 0644", "want 0600", "chmod 600 " + keyPath}},
		{"unknown node", cfgPath, "lb9", []string{`node "lb9" (from --node) is not in cluster.nodes`}},
		{"config errors", bad, "lb1", []string{bad + `:2:1: cluster.nmae: unknown key "nmae" (did you mean "name"?)`, bad + ":1:2: cluster.id: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, _, _, err := node.Load(tt.path, tt.node)
			if err == nil {
				t.Fatalf("node.Load(%s, %s) error = nil, want %q", tt.path, tt.node, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("node.Load(%s, %s) error = %q, want it to contain %q", tt.path, tt.node, err, w)
				}
			}
		})
	}
}

// TestHadBinaryRefusesOpenAuthkeys runs the real had binary on a config
// whose authkeys is 0644: it must exit non-zero naming file, mode and fix.
func TestHadBinaryRefusesOpenAuthkeys(t *testing.T) {
	bin := testkit.BuildBinary(t, "had")
	cfgPath, keyPath := setup(t, 0o644)
	cmd := exec.Command(bin, "-c", cfgPath, "--node", "lb1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("had -c %s: err = %v, want a non-zero exit", cfgPath, err)
	}
	for _, w := range []string{keyPath, "mode 0644", "chmod 600 " + keyPath} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("had stderr = %q, want it to contain %q", stderr.String(), w)
		}
	}

	if err := os.Chmod(keyPath, 0o600); err != nil {
		t.Fatal(err)
	}
	// The example is for lb1's machine, not this one: --no-host.
	out, err := exec.Command(bin, "-check", "-no-host", "-c", cfgPath).CombinedOutput()
	want := `had: config ok: nodes lb1 and lb2 in cluster "web" id 7, 1 group, 2 services; authkeys ` + keyPath + " ok (2 keys, signing with 2); host facts not checked\n"
	if err != nil || !strings.HasSuffix(string(out), want) {
		t.Errorf("had -check -c %s with 0600 authkeys = %v, %q; want exit 0 and %q", cfgPath, err, out, want)
	}

	out, err = exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "had ") {
		t.Errorf("had --version = %v, %q; want the build on one line", err, out)
	}
}

// TestLogFormat checks that --log-format picks slog's JSON or text
// handler: the md5 warning of the sample authkeys comes out in that form.
func TestLogFormat(t *testing.T) {
	cfgPath, _ := setup(t, 0o600)
	for _, tc := range []struct{ format, want string }{
		{"json", `{"time":`},
		{"text", `time=`},
	} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"-check", "-no-host", "-c", cfgPath, "--log-format", tc.format}, &stdout, &stderr)
		line, _, _ := strings.Cut(stderr.String(), "\n")
		if code != 0 || !strings.HasPrefix(line, tc.want) || !strings.Contains(line, "md5") {
			t.Errorf("had --log-format %s = exit %d, first log line %q; want exit 0 and a line starting %q about md5", tc.format, code, line, tc.want)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-check", "-c", cfgPath, "--log-format", "xml"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), `-log-format "xml": want text or json`) {
		t.Errorf("had --log-format xml = exit %d, %q; want 2 and an error naming the flag", code, stderr.String())
	}
}

// TestCheckFailsOneLineEach: had --check prints authkeys errors as config
// errors, one a line at the cluster.authkeys key that names the file
// (CONFIG:LINE:COL: cluster.authkeys: AUTHKEYS:LINE:COL: ...), then the
// count.
func TestCheckFailsOneLineEach(t *testing.T) {
	cfgPath, keyPath := setup(t, 0o600)
	if err := os.WriteFile(keyPath, []byte("auth 1\n1 sha256\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"-check", "-no-host", "-c", cfgPath}, &stdout, &stderr)
	want := cfgPath + ":17:12: cluster.authkeys: " + keyPath + `:2:9: key 1: sha256 needs a secret ("1 sha256 SECRET")` + "\n" +
		"had: " + cfgPath + ": 1 error, not starting\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("had --check = %d, stderr:\n%s\nwant 1:\n%s", code, stderr.String(), want)
	}
}

// TestCheckFlags: had refuses --node with --no-host as hactl check-config
// does (node.CheckOptions.Validate, one rule), and --no-host without
// --check (a start runs on this host), before reading anything.
func TestCheckFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--check", "--node", "lb1", "--no-host", "-c", "/nonexistent/had.toml"},
			"had: --node lb1 checks this host as that node, --no-host leaves the host out: give one\n"},
		{[]string{"--no-host", "-c", "/nonexistent/had.toml"},
			"had: --no-host is for --check: a node that starts runs on this host's interfaces and kernel\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if code != 2 || first+"\n" != tc.want || !strings.Contains(stderr.String(), "Usage of had") {
			t.Errorf("had %q = exit %d, stderr:\n%s\nwant 2, %q and the usage", tc.args, code, stderr.String(), tc.want)
		}
	}
}
