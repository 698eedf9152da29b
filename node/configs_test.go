package node_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hapair/hapair/node"
	"github.com/hapair/hapair/node/nodetest"
	"github.com/hapair/hapair/test/e2e/scenario"
)

// TestConfigsCheckAndBuild runs every config we know of through the
// config check (LoadConfig: decode and validate) and the dry build (the
// constructors had uses, for every node), and fails when the check accepts
// a config the build refuses: such a config passes `hactl check-config`'s
// first half and stops had at start. It also holds node.Check (what had
// --check and hactl check-config run) to the same verdict. The configs:
// every deploy/*.toml example, every scenario the e2e tests generate (with
// their edits), and the config fuzz corpus.
func TestConfigsCheckAndBuild(t *testing.T) {
	// Every one of them is for other machines (lb1 and lb2, the lab's
	// namespaces): host facts are off on purpose, in the build as in the
	// check.
	for name, text := range knownConfigs(t) {
		t.Run(name, func(t *testing.T) {
			path, _ := nodetest.Sandbox(t, text, 0o600)
			cfg, checkErr := node.LoadConfig(path)
			var buildErr error
			if checkErr == nil {
				for _, self := range cfg.Cluster.Nodes {
					n, err := node.Build(cfg, node.Options{Path: path, Node: self, DryRun: true, NoHost: true})
					if err != nil {
						buildErr = fmt.Errorf("node %s: %w", self, err)
						break
					}
					n.Close()
				}
			}
			if checkErr == nil && buildErr != nil {
				t.Errorf("the config check accepts it, the dry build refuses it: %v", buildErr)
			}
			_, err := node.Check(path, node.CheckOptions{NoHost: true})
			if want := checkErr == nil && buildErr == nil; (err == nil) != want {
				t.Errorf("node.Check = %v, want ok %v (config check %v, dry build %v)", err, want, checkErr, buildErr)
			}
		})
	}
}

// TestExamplesAndScenariosPass: every deploy/*.toml example and every
// config the e2e tests generate passes the check, host facts left out (they
// are for lb1 and lb2, and for the lab's namespaces): a rule added to the
// check that refuses one of them is either wrong or needs that config
// fixed. The fuzz corpus is not held to it.
func TestExamplesAndScenariosPass(t *testing.T) {
	for name, text := range knownConfigs(t) {
		if strings.HasPrefix(name, "fuzz/") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path, _ := nodetest.Sandbox(t, text, 0o600)
			if _, err := node.Check(path, node.CheckOptions{NoHost: true}); err != nil {
				t.Errorf("node.Check(NoHost) = %v", err)
			}
		})
	}
}

// knownConfigs returns every config text by a name for the subtest.
func knownConfigs(t *testing.T) map[string]string {
	t.Helper()
	root := nodetest.ModuleRoot(t)
	out := map[string]string{}
	examples, _ := filepath.Glob(filepath.Join(root, "deploy", "*.toml"))
	if len(examples) < 2 {
		t.Fatalf("deploy/*.toml = %q, want the examples", examples)
	}
	for _, f := range examples {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out["deploy/"+filepath.Base(f)] = string(data)
	}
	// The e2e lab's host directories and sockets; Sandbox moves /srv and
	// /var paths into the test's temporary directory.
	for name, o := range scenario.All() {
		for _, self := range []string{"lb1", "lb2"} {
			c := scenario.Config("/srv/hapair-e2e/"+self, "/var/run/hapair-e2e/"+self+".sock", o)
			out["e2e/"+name+"/"+self] = c
			for edit, e := range scenario.Edits() {
				if e.Scenario != name {
					continue
				}
				edited := e.Apply(c)
				if edited == c {
					t.Fatalf("edit %s does not change scenario %q", edit, name)
				}
				out["e2e/"+name+"/"+self+"/"+edit] = edited
			}
		}
	}
	corpus, _ := filepath.Glob(filepath.Join(root, "internal", "config", "testdata", "fuzz", "*", "*"))
	if len(corpus) == 0 {
		t.Fatal("no config fuzz corpus under internal/config/testdata/fuzz")
	}
	sort.Strings(corpus)
	for _, f := range corpus {
		out["fuzz/"+filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)] = corpusEntry(t, f)
	}
	return out
}

// corpusEntry decodes a `go test fuzz v1` file holding one []byte value.
func corpusEntry(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a go test fuzz v1 file", path)
	}
	v := strings.TrimSpace(lines[1])
	for _, typ := range []string{"[]byte(", "string("} {
		if q, ok := strings.CutPrefix(v, typ); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return s
		}
	}
	t.Fatalf("%s: want one []byte or string value, have %.40q", path, v)
	return ""
}
