package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/node/nodetest"
)

// unitLines returns the values of key in deploy/had.service.
func unitLines(t *testing.T, unit, key string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestServiceUnit checks deploy/had.service: ExecStartPre runs the full
// check (config, authkeys, dry build) with the binary and config ExecStart
// uses, and ExecReload goes through hactl, so a refused reload fails
// `systemctl reload` with its reason. The check line is run for real on
// the sandboxed web-pair example.
func TestServiceUnit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(nodetest.ModuleRoot(t), "deploy", "had.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	start, pre, reload := unitLines(t, unit, "ExecStart"), unitLines(t, unit, "ExecStartPre"), unitLines(t, unit, "ExecReload")
	if len(start) != 1 || len(pre) != 1 || len(reload) != 1 {
		t.Fatalf("had.service: ExecStart %q, ExecStartPre %q, ExecReload %q; want one each", start, pre, reload)
	}
	startArgs := strings.Fields(start[0])
	if len(startArgs) != 3 || startArgs[1] != "-c" {
		t.Fatalf("ExecStart = %q, want HAD -c CONFIG", start[0])
	}
	had, cfg := startArgs[0], startArgs[2]
	if want := had + " --check -c " + cfg; pre[0] != want {
		t.Errorf("ExecStartPre = %q, want %q", pre[0], want)
	}
	if want := filepath.Join(filepath.Dir(had), "hactl") + " -c " + cfg + " reload"; reload[0] != want {
		t.Errorf("ExecReload = %q, want %q", reload[0], want)
	}

	sandboxed, keys := nodetest.Example(t, "web-pair.toml", 0o600)
	// The example is for lb1's machine, not this one: --no-host.
	args := append(strings.Fields(pre[0])[1:], "--no-host")
	args[len(args)-2] = sandboxed // the -c value
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "authkeys "+keys+" ok") {
		t.Errorf("had %q = %d, stdout %q stderr %q; want 0 and the authkeys checked", args, code, stdout.String(), stderr.String())
	}
}
