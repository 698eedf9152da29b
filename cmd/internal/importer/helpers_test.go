package importer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/node"
)

// checkConfig checks res's TOML exactly as `hactl check-config` does
// (node.Check: the config, the authkeys file it names, a dry build of every
// node). An authkeys file next to had.toml stands in for the one an import
// without Heartbeat's asks the operator to write; an import of a Heartbeat
// directory names the source's own file, which must then load.
func checkConfig(t *testing.T, res *Result) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "had.toml")
	if err := os.WriteFile(path, res.TOML, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authkeys"), []byte(baseAK), 0o600); err != nil {
		t.Fatal(err)
	}
	// The import emits no ipvs-sync (hapair has no IPVS table to sync), so
	// it is checked as it is, also on kernels without IPVS.
	_, err := node.Check(path, node.CheckOptions{NoHost: true}) // imported configs are for the old cluster's machines
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			t.Fatalf("imported TOML does not pass check-config:\n%v\n--- TOML:\n%s", err, res.TOML)
		}
		t.Fatalf("check-config: %v\n--- TOML:\n%s", err, res.TOML)
	}
	cfg, err := node.LoadConfig(path) // the import as written, every resource
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// want is what a table case expects of an import.
type want struct {
	toml     []string // substrings of the TOML, each present
	notTOML  []string // substrings that must not be present
	warns    []string // substrings, each matching at least one warning
	notWarns []string // substrings no warning may contain
	complete bool
}

func (w want) check(t *testing.T, res *Result) {
	t.Helper()
	testkit.Substrings(t, "TOML", string(res.TOML), w.toml, w.notTOML)
	var ws []string
	for _, x := range res.Warnings {
		ws = append(ws, x.String())
	}
	for _, s := range w.warns {
		found := false
		for _, x := range ws {
			if strings.Contains(x, s) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning contains %q; warnings:\n%s", s, strings.Join(ws, "\n"))
		}
	}
	for _, s := range w.notWarns {
		for _, x := range ws {
			if strings.Contains(x, s) {
				t.Errorf("warning %q contains %q", x, s)
			}
		}
	}
	if res.Complete() != w.complete {
		t.Errorf("Complete() = %v, want %v; warnings:\n%s", res.Complete(), w.complete, strings.Join(ws, "\n"))
	}
	checkConfig(t, res)
}

// writeDir writes files into a new temporary directory; authkeys gets mode
// 0600 as Heartbeat and had require, scripts in resource.d and init.d 0755.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o600)
		if strings.Contains(name, "resource.d/") || strings.Contains(name, "init.d/") {
			mode = 0o755 // Heartbeat resource scripts
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
