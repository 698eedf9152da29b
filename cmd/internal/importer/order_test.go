package importer

import (
	"encoding/json"
	"go/ast"
	goimporter "go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoMapOrder keeps Go's random map order out of every import's output
// (two imports of one input must be byte-identical; ipvsadm once took a
// real's forwarding method from a range over a map): in the package's own
// code, a range over a map, or over maps.Keys/Values/All not sorted by
// slices.Sorted on the spot, must carry a comment "// any order: WHY" on
// its line or the line above, saying why its order cannot reach the
// output.
func TestNoMapOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the package with export data from go list")
	}
	cmd := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Export", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	exports := map[string]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
	}
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	conf := types.Config{Importer: goimporter.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
	if _, err := conf.Check("importer", fset, files, info); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		excused := map[int]bool{} // lines a "// any order:" comment covers
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if strings.HasPrefix(c.Text, "// any order: ") {
					l := fset.Position(c.Pos()).Line
					excused[l], excused[l+1] = true, true
				}
			}
		}
		sorted := map[ast.Expr]bool{} // maps.X calls slices.Sorted wraps
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok && isFunc(info, c.Fun, "slices", "Sorted") && len(c.Args) == 1 {
				sorted[c.Args[0]] = true
			}
			var at token.Pos
			switch n := n.(type) {
			case *ast.RangeStmt:
				if _, ok := info.TypeOf(n.X).Underlying().(*types.Map); ok {
					at = n.Pos()
				}
			case *ast.CallExpr:
				if !sorted[n] && (isFunc(info, n.Fun, "maps", "Keys") || isFunc(info, n.Fun, "maps", "Values") || isFunc(info, n.Fun, "maps", "All")) {
					at = n.Pos()
				}
			}
			if at.IsValid() && !excused[fset.Position(at).Line] {
				t.Errorf("%s: iterates a map in Go's random order: sort it, or say why the order cannot reach the output (// any order: WHY)", fset.Position(at))
			}
			return true
		})
	}
}

// isFunc reports whether fun names pkg.name.
func isFunc(info *types.Info, fun ast.Expr, pkg, name string) bool {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	fn, ok := info.Uses[sel.Sel].(*types.Func)
	return ok && fn.Pkg() != nil && fn.Pkg().Path() == pkg && fn.Name() == name
}
