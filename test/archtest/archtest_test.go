package archtest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/hapair/hapair"

// pure are the packages that must stay deterministic and I/O free. Those not
// written yet are skipped by name.
var pure = []string{"internal/field", "internal/unicast", "internal/fwd", "internal/groupstate", "internal/psync", "ha", "ha/wire", "ha/replay", "ha/resource", "authkeys", "proxy/sched", "proxy/persist"}

// badDeps maps a forbidden dependency, direct or transitive (or a prefix
// ending in "/"), to the reason.
var badDeps = map[string]string{
	"net":           "pure packages do no network I/O; ha/link and proxy/l4 do",
	"net/http":      "pure packages do no network I/O",
	"os/exec":       "running programs belongs to internal/runner",
	"log":           "pure packages return reasons; the shells log",
	"log/slog":      "pure packages return reasons; the shells log",
	"golang.org/x/": "pure packages import only the standard library",
	"github.com/":   "pure packages import only the standard library",
}

// badDirect are forbidden as direct imports only: fmt, errors and time pull
// os and syscall in transitively, which is harmless.
var badDirect = map[string]string{
	"os":          "pure packages do no file or process I/O; shells and adapters do",
	"syscall":     "system calls belong to adapters",
	"math/rand":   "randomness comes in as a *rand.Rand (math/rand/v2) parameter",
	"crypto/rand": "randomness comes in as a parameter",
	"unsafe":      "pure packages stay memory safe",
}

// allowDirect are reviewed exceptions to badDirect, each with its reason.
var allowDirect = map[string]map[string]string{
	"authkeys": {
		"os":      "Load reads the authkeys file and checks its mode (the brief's contract); Parse stays pure",
		"syscall": "Load checks the file owner through syscall.Stat_t",
	},
}

// allowDeps are reviewed exceptions to "a pure package depends only on pure
// packages of this module", each with its reason.
var allowDeps = map[string]map[string]string{
	"authkeys": {
		module + "/internal/regfile": "Load opens the key file without blocking on a FIFO, as ha/generation does",
	},
}

type listed struct {
	ImportPath string
	Dir        string
	Deps       []string
	Doc        string
	Imports    []string
	GoFiles    []string
}

func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	root := moduleRoot(t)
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var ps []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		ps = append(ps, p)
	}
	return ps
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not at %s: %v", dir, err)
	}
	return dir
}

func existingPure(t *testing.T) []string {
	t.Helper()
	root := moduleRoot(t)
	var have []string
	for _, p := range pure {
		if m, _ := filepath.Glob(filepath.Join(root, p, "*.go")); len(m) == 0 {
			t.Logf("pure package %s does not exist yet: not checked", p)
			continue
		}
		have = append(have, p)
	}
	return have
}

func TestPureDeps(t *testing.T) {
	pureSet := map[string]bool{}
	for _, p := range pure {
		pureSet[module+"/"+p] = true
	}
	for _, p := range existingPure(t) {
		t.Run(p, func(t *testing.T) {
			for _, lp := range goList(t, "./"+p) {
				for _, im := range lp.Imports {
					if _, ok := allowDirect[p][im]; ok {
						continue
					}
					if why, bad := badDirect[im]; bad {
						t.Errorf("%s imports %s: %s", p, im, why)
					}
				}
			}
			deps := goList(t, "-deps", "./"+p)
			for _, d := range deps {
				dep := d.ImportPath
				if dep == module+"/"+p {
					continue
				}
				if strings.HasPrefix(dep, module+"/") || strings.HasPrefix(dep, "vendor/") {
					if _, ok := allowDeps[p][dep]; !ok && !pureSet[dep] {
						t.Errorf("%s depends on %s, which is not a pure package", p, dep)
					}
					continue
				}
				for bad, why := range badDeps {
					if dep == bad || (strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad)) {
						t.Errorf("%s depends on %s: %s", p, dep, why)
					}
				}
			}
		})
	}
}

// banned are calls that read the clock, sleep, or use the global RNG.
var bannedTime = map[string]bool{"Now": true, "Sleep": true, "After": true, "Tick": true, "NewTimer": true,
	"NewTicker": true, "AfterFunc": true, "Since": true, "Until": true}

func TestPureCalls(t *testing.T) {
	root := moduleRoot(t)
	for _, p := range existingPure(t) {
		t.Run(p, func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(root, p, "*.go"))
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				fset := token.NewFileSet()
				af, err := parser.ParseFile(fset, f, nil, 0)
				if err != nil {
					t.Fatalf("parsing %s: %v", f, err)
				}
				names := map[string]string{} // local name -> import path
				for _, im := range af.Imports {
					path := strings.Trim(im.Path.Value, `"`)
					name := filepath.Base(path)
					if path == "math/rand/v2" {
						name = "rand"
					}
					if im.Name != nil {
						name = im.Name.Name
					}
					names[name] = path
				}
				ast.Inspect(af, func(n ast.Node) bool {
					sel, ok := n.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					id, ok := sel.X.(*ast.Ident)
					if !ok || id.Obj != nil {
						return true
					}
					switch path := names[id.Name]; {
					case path == "time" && bannedTime[sel.Sel.Name]:
						t.Errorf("%s: time.%s: time comes in as Event.Now or a parameter", fset.Position(sel.Pos()), sel.Sel.Name)
					case (path == "math/rand" || path == "math/rand/v2") && !isRandType(sel.Sel.Name):
						t.Errorf("%s: %s.%s: the global RNG is banned; take a *rand.Rand", fset.Position(sel.Pos()), id.Name, sel.Sel.Name)
					}
					return true
				})
			}
		})
	}
}

// isRandType reports whether name is a type or constructor of an explicit
// generator (allowed), not a package-level draw from the global source.
func isRandType(name string) bool {
	switch name {
	case "Rand", "Source", "New", "NewPCG", "NewChaCha8", "PCG", "ChaCha8", "NewSource", "NewZipf", "Zipf":
		return true
	}
	return false
}

func TestPackageDocs(t *testing.T) {
	for _, p := range goList(t, "./...") {
		if p.Doc == "" {
			t.Errorf("package %s has no package doc comment (what it owns, what it must not do, which RFC/tool it follows)", p.ImportPath)
		}
	}
}

func TestHAAndProxyApart(t *testing.T) {
	for _, p := range goList(t, "./...") {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		for _, pair := range [][2]string{{"ha", "proxy"}, {"proxy", "ha"}} {
			if rel != pair[0] && !strings.HasPrefix(rel, pair[0]+"/") {
				continue
			}
			for _, im := range p.Imports {
				other := strings.TrimPrefix(im, module+"/")
				if other == pair[1] || strings.HasPrefix(other, pair[1]+"/") {
					t.Errorf("%s imports %s: %s/... and %s/... never import each other; package node bridges them", rel, other, pair[0], pair[1])
				}
			}
		}
	}
}

// TestOnlyNodeBridges keeps the bridge between the ownership side and the
// balancer in one package: node is the only one importing both ha/... and
// proxy/... (STYLE.md §5), so wiring never spreads back into cmd/had.
func TestOnlyNodeBridges(t *testing.T) {
	under := func(im, root string) bool {
		rel := strings.TrimPrefix(im, module+"/")
		return rel != im && (rel == root || strings.HasPrefix(rel, root+"/"))
	}
	for _, p := range goList(t, "./...") {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		var ha, proxy string
		for _, im := range p.Imports {
			if under(im, "ha") {
				ha = im
			}
			if under(im, "proxy") {
				proxy = im
			}
		}
		if ha != "" && proxy != "" && rel != "node" {
			t.Errorf("%s imports %s and %s: only package node imports both ha/... and proxy/...", rel, ha, proxy)
		}
	}
}

// TestSingleImporters keeps each heavy dependency behind the one package
// that owns it, so its types never leak into the rest of the tree.
func TestSingleImporters(t *testing.T) {
	owners := map[string]string{
		"github.com/pelletier/go-toml/v2": "internal/config",    // the schema lives in one place (STYLE.md §3)
		"github.com/prometheus/":          "cmd/internal/admin", // metrics read plain Stats snapshots (STYLE.md §3)
	}
	for _, p := range goList(t, "./...") {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		for _, im := range p.Imports {
			for dep, owner := range owners {
				if (im == dep || strings.HasPrefix(im, strings.TrimSuffix(dep, "/")+"/")) && rel != owner {
					t.Errorf("%s imports %s: only %s may", rel, im, owner)
				}
			}
		}
	}
}

// isTestHelper reports whether rel is a package that exists for tests: a
// fake or kit named *test (clocktest, proxytest, upstreamtest...),
// internal/testkit, or anything under test/.
func isTestHelper(rel string) bool {
	return strings.HasSuffix(rel, "test") || rel == "internal/testkit" || rel == "test" || strings.HasPrefix(rel, "test/")
}

// TestTestHelpersStayInTests keeps fakes, fake clocks and the test kit out
// of the daemon (tailscale's deptest: "do not use testing package in
// production code"): only test files and other test helpers import them.
func TestTestHelpersStayInTests(t *testing.T) {
	for _, p := range goList(t, "./...") {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		if isTestHelper(rel) {
			continue
		}
		for _, im := range p.Imports {
			other, ours := strings.CutPrefix(im, module+"/")
			if im == "testing" || (ours && isTestHelper(other)) {
				t.Errorf("%s imports %s: test helpers belong in _test.go files", rel, im)
			}
		}
	}
}

// maxHadLines bounds cmd/had's non-test Go (issue 8): the daemon keeps
// flags, signals, systemd and logging; building, running and reloading a
// node belong to package node, which has unit tests.
const maxHadLines = 300

func TestHadStaysThin(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "cmd", "had")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(b), "\n")
	}
	if lines >= maxHadLines {
		t.Errorf("cmd/had has %d lines of non-test Go, want under %d: move what is not flags, signals, systemd or logging into package node (or the leaf it serves)", lines, maxHadLines)
	}
}
