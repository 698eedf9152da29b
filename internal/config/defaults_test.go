package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const examplePath = "../../deploy/had.example.toml"

// defaultLine matches a line of the example that sets a key to its default.
var defaultLine = regexp.MustCompile(`^\s*[a-z_]+\s*=.*#\s*default\b`)

// TestExampleDefaults proves that every value the example marks "# default"
// is the one had uses: the example with those lines removed must give the
// same Config as the example itself. The defaults come from their owning
// packages, so this compares the documentation with them.
func TestExampleDefaults(t *testing.T) {
	data, _ := readExample(t)
	full, err := parse(data, "example.toml")
	if err != nil {
		t.Fatalf("Parse(%s):\n%v", examplePath, err)
	}
	var kept []string
	removed := 0
	for _, line := range strings.Split(string(data), "\n") {
		if defaultLine.MatchString(line) {
			removed++
			continue
		}
		if strings.Contains(line, "# default") && !strings.HasPrefix(line, "#") {
			t.Errorf("line %q is marked default but sets no key", line)
		}
		kept = append(kept, line)
	}
	bare, err := parse([]byte(strings.Join(kept, "\n")), "example.toml")
	if err != nil {
		t.Fatalf("Parse(example without its defaults):\n%v", err)
	}
	if removed < 50 {
		t.Errorf("example marks %d keys default, want every key with a default (50 or more)", removed)
	}
	for i := range full.Services {
		f, b := &full.Services[i].Check, &bare.Services[i].Check
		if fmt.Sprint(f.Receive) != fmt.Sprint(b.Receive) {
			t.Errorf("service[%d].check.receive = %v without the defaults, %v with them", i, b.Receive, f.Receive)
		}
		f.Receive, b.Receive = nil, nil
	}
	bare.authkeysAt, full.authkeysAt = Pos{}, Pos{} // where the key is written, not what it says
	if !reflect.DeepEqual(bare, full) {
		t.Errorf("example without its defaults gives\n%s\nwant (with them written)\n%s", dump(bare), dump(full))
	}
}

// readExample returns deploy/had.example.toml and its key index.
func readExample(t *testing.T) ([]byte, *index) {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	ix, perr := buildIndex(data, "example.toml")
	if perr != nil {
		t.Fatal(perr)
	}
	return data, ix
}

// dump prints c with the pointers of its resources followed.
func dump(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", *c)
	for _, g := range c.Groups {
		for _, r := range g.Resources {
			fmt.Fprintf(&b, "%s: %+v %+v %+v %+v\n", r.Kind, r.VIP, r.Balancer, r.IPVSSync, r.Script)
		}
	}
	return b.String()
}

// TestExampleHasEveryKey: the example lists every key of the schema.
func TestExampleHasEveryKey(t *testing.T) {
	_, ix := readExample(t)
	written := map[string]bool{}
	strip := regexp.MustCompile(`\[\d+\]`)
	for k := range ix.key {
		written[strip.ReplaceAllString(k, "")] = true
	}
	var missing []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			path := join(prefix, f.Tag.Get("toml"))
			if !written[path] {
				missing = append(missing, path)
			}
			ft := f.Type
			for ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(path, ft)
			}
		}
	}
	walk("", reflect.TypeOf(rawFile{}))
	// [service.check] keys of types the example does not use are named in
	// its closing comment instead.
	missing = slices.DeleteFunc(missing, func(k string) bool { return k == "service.check.program" || k == "service.check.args" })
	if len(missing) > 0 {
		t.Errorf("deploy/had.example.toml does not list %q", missing)
	}
}

// readmeRow is a row of README's defaults table: | `key` | `value` | why |.
var readmeRow = regexp.MustCompile("^\\| `([a-z_.]+)(?: \\(([a-z-]+)\\))?` \\| `([^`]+)` \\|")

// arrays are the keys that hold arrays of tables: README names their first
// element (or the first of a resource kind) without an index.
var arrays = []string{"link", "ping", "track", "group", "resources", "service", "reals", "backups", "monitors"}

// TestREADMEDefaults: every default in README's table is written the same
// in the example (whose defaults TestExampleDefaults checks against had).
func TestREADMEDefaults(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	data, ix := readExample(t)
	lines := strings.Split(string(data), "\n")
	rows := 0
	for _, m := range matchingLines(readme, readmeRow) {
		rows++
		key, kind, want := m[1], m[2], m[3]
		got, pos, ok := exampleValue(t, ix, lines, "README default", key, kind)
		if ok && got != want {
			t.Errorf("README says %s defaults to %s; the example (%s) says %s", key, want, pos, got)
		}
	}
	if rows < 30 {
		t.Errorf("README's defaults table has %d rows, want 30 or more", rows)
	}
	// The per-service limits table says its defaults again, unquoted.
	limits := 0
	for _, m := range matchingLines(readme, limitRow) {
		limits++
		got, pos, ok := exampleValue(t, ix, lines, "README limit", "service."+m[1], "")
		if got = strings.Trim(got, `"`); ok && got != m[2] {
			t.Errorf("README's limits say %s defaults to %s; the example (%s) says %s", m[1], m[2], pos, got)
		}
	}
	if limits < 3 {
		t.Errorf("README's limits table has %d rows with a default, want 3 or more", limits)
	}
}

// exampleValue returns the value the example writes for the README key
// (and, for resources, kind) and where; it reports what (the README table)
// and returns !ok when the example does not write the key.
func exampleValue(t *testing.T, ix *index, lines []string, what, key, kind string) (string, Pos, bool) {
	t.Helper()
	path := examplePathOf(ix, lines, key, kind)
	pos, ok := ix.key[path]
	if !ok {
		t.Errorf("%s %s: the example has no %s", what, key, path)
		return "", pos, false
	}
	_, val, _ := strings.Cut(lines[pos.Line-1][pos.Col-1:], "=")
	return valueText(strings.TrimSpace(val)), pos, true
}

// matchingLines returns the submatches of re on each line of text that
// it matches.
func matchingLines(text []byte, re *regexp.Regexp) [][]string {
	var out [][]string
	for _, line := range strings.Split(string(text), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// limitRow is a row of README's per-service limits table with a plain
// default: | `key` | applies to | default | what |.
var limitRow = regexp.MustCompile("^\\| `([a-z_]+)` \\| [^|]+ \\| ([0-9][0-9a-z.]*) \\|")

// examplePathOf turns a README key ("service.check.rise", "group.resources.timeout"
// with kind "script") into the example's key path: in each array of
// tables, the first element where the key is written (and, for resources,
// whose kind is kind).
func examplePathOf(ix *index, lines []string, key, kind string) string {
	var walk func(path string, segs []string) (string, bool)
	walk = func(path string, segs []string) (string, bool) {
		if len(segs) == 0 {
			return path, ix.has(path)
		}
		path = join(path, segs[0])
		if !slices.Contains(arrays, segs[0]) {
			return walk(path, segs[1:])
		}
		for i := 0; ix.has(idx(path, i)); i++ {
			if segs[0] == "resources" && kind != "" {
				p, ok := ix.val[idx(path, i)+".kind"]
				if !ok || valueText(lines[p.Line-1][p.Col-1:]) != `"`+kind+`"` {
					continue
				}
			}
			if found, ok := walk(idx(path, i), segs[1:]); ok {
				return found, true
			}
		}
		return path, false
	}
	found, _ := walk("", strings.Split(key, "."))
	return found
}

// valueText returns the TOML value at the start of s: a string, an inline
// table, or a bare word.
func valueText(s string) string {
	switch {
	case strings.HasPrefix(s, `"`):
		if i := strings.IndexByte(s[1:], '"'); i >= 0 {
			return s[:i+2]
		}
	case strings.HasPrefix(s, "{"):
		if i := strings.IndexByte(s, '}'); i >= 0 {
			return s[:i+1]
		}
	}
	if i := strings.IndexAny(s, " \t,}#"); i >= 0 {
		return s[:i]
	}
	return s
}
