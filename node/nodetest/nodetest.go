// Package nodetest puts config files where a test can check and build them
// without root and without /etc/hapair: it moves every absolute path a
// config names (programs, hooks, the authkeys file) into a temporary
// directory, writes an authkeys file and a stub executable for each program
// there. Tests of package node, had and hactl use it on the deploy/
// examples and generated configs.
package nodetest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Authkeys is the authkeys file Sandbox writes: two keys, signing with 2.
const Authkeys = "auth 2\n1 sha256 0123456789abcdef0123456789abcdef-old\n2 sha256 0123456789abcdef0123456789abcdef\n"

// absPath matches a quoted absolute path in a config, up to a closing quote
// or a haresources "::" argument separator.
var absPath = regexp.MustCompile(`"(/(?:etc|usr|opt|srv|var)/[^":]+)`)

// Sandbox writes config into a new temporary directory as had.toml, with
// every absolute path under /etc, /usr, /opt, /srv or /var moved under
// that directory, cluster.authkeys pointing at an authkeys file (Authkeys,
// with mode keyMode) and a stub executable ("exit 0") for every program
// (the value of a path, notify, script or program key). Everything else
// is kept as written: a config for lb1 and lb2 is checked with host facts
// off (node.CheckOptions.NoHost), not edited to suit this host. It returns
// the config's and the authkeys file's paths.
func Sandbox(t testing.TB, config string, keyMode os.FileMode) (cfgPath, keyPath string) {
	t.Helper()
	// A short directory, not t.TempDir (which holds the subtest's name):
	// the paths moved under it keep their lengths about as written, and
	// the check refuses a state_dir too long for conntrackd's and BIRD's
	// control sockets (sun_path), as had's start would.
	dir, err := os.MkdirTemp("", "hp-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	keyPath = filepath.Join(dir, "authkeys")
	// A script named without '/' is looked up in /etc/hapair/resource.d
	// (inline tables, or [[group.resources]] tables with path next).
	config = regexp.MustCompile(`(kind = "script"(?:, |\s*(?:#[^\n]*)?\n)path = ")([^"/]+")`).ReplaceAllString(config, `${1}/etc/hapair/resource.d/$2`)
	config = absPath.ReplaceAllString(config, `"`+dir+`$1`)
	if key := regexp.MustCompile(`(?m)^authkeys\s*=\s*"[^"]*"`); key.MatchString(config) {
		config = key.ReplaceAllString(config, "authkeys = \""+keyPath+"\"")
	} else {
		config = regexp.MustCompile(`(?m)^\[cluster\][^\n]*\n`).ReplaceAllStringFunc(config, func(table string) string {
			return table + "authkeys = \"" + keyPath + "\"\n"
		})
	}
	programs := regexp.MustCompile(`\b(?:path|notify|script|program) = "(` + regexp.QuoteMeta(dir) + `/[^":]+)`)
	for _, m := range programs.FindAllStringSubmatch(config, -1) {
		write(t, m[1], "#!/bin/sh\nexit 0\n", 0o755)
	}
	write(t, keyPath, Authkeys, 0o600)
	if err := os.Chmod(keyPath, keyMode); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "had.toml")
	write(t, cfgPath, config, 0o600)
	return cfgPath, keyPath
}

// Example is Sandbox on deploy/NAME, found from the calling test's
// package directory by walking up to the module root.
func Example(t testing.TB, name string, keyMode os.FileMode) (cfgPath, keyPath string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ModuleRoot(t), "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return Sandbox(t, string(data), keyMode)
}

// ModuleRoot is the directory of go.mod above the working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("nodetest: no go.mod above the working directory")
		}
		dir = up
	}
}

func write(t testing.TB, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}
