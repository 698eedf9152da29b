package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/fwd"
)

// TestMethodNamesOwned keeps the forwarding methods' names in internal/fwd
// (issue 8: no list of names written twice): no other non-test Go file
// spells "proxy", "nat" or "dr" as a whole string literal, so a comparison
// against a misspelt or retired name cannot compile. Messages that quote a
// method inside a longer sentence are prose and stay as they are.
func TestMethodNamesOwned(t *testing.T) {
	names := fwd.Names()
	for _, p := range goList(t, "./...") {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		if rel == "internal/fwd" || isTestHelper(rel) {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			fset := token.NewFileSet()
			af, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatalf("parsing %s: %v", path, err)
			}
			ast.Inspect(af, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if s, err := strconv.Unquote(lit.Value); err == nil && slices.Contains(names, s) {
					t.Errorf("%s: %s: use internal/fwd's Method constants", fset.Position(lit.Pos()), lit.Value)
				}
				return true
			})
		}
	}
}
