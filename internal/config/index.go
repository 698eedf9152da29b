package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// index maps key paths ("service[1].check.interval") to where they are
// written. It is built from go-toml's unstable parser so that errors found
// after decoding (a deadtime too short, an unknown service) still point at the
// line that needs editing.
type index struct {
	key    map[string]Pos // the key, or the [table] header / inline '{' of an element
	val    map[string]Pos // the value; absent for arrays (the parser gives them no range)
	byPos  map[[2]int]string
	counts map[string]int // array-of-tables path -> elements so far
	file   string
	tables []header // the [table] headers, in file order
	n      int      // keys and table headers seen
	over   *Pos     // where the maxKeys+1-th was written, once passed
}

// maxKeys bounds the keys and table headers of one file. go-toml's strict
// decode locates each unknown key by scanning the whole document, so its
// cost grows with the square of the keys: 40,000 unknown keys took 43 s and
// a 4 MiB file of them tens of minutes. A had.toml with 1,000 reals holds
// about 3,000 keys; at this limit the worst file is checked in about 3 s.
const maxKeys = 10000

// buildIndex parses data and records every key. A syntax error comes back as
// an *Error with its position.
func buildIndex(data []byte, file string) (*index, *Error) {
	ix := &index{
		key:    map[string]Pos{},
		val:    map[string]Pos{},
		byPos:  map[[2]int]string{},
		counts: map[string]int{},
		file:   file,
	}
	var p unstable.Parser
	p.Reset(data)
	var table string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			ix.keyValue(&p, file, table, e)
		case unstable.Table:
			table = ix.tablePath(e, false)
			ix.setKey(table, ix.pos(&p, file, lastKey(e)))
			ix.tables = append(ix.tables, header{path: table, parts: keyParts(e)})
		case unstable.ArrayTable:
			table = ix.tablePath(e, true)
			ix.setKey(table, ix.pos(&p, file, lastKey(e)))
		}
	}
	if ix.over != nil {
		return nil, &Error{Pos: *ix.over, Msg: fmt.Sprintf("more than %d keys in one file: a had.toml holds a few thousand at most (the limit bounds the check's work)", maxKeys)}
	}
	if err := p.Error(); err != nil {
		var pe *unstable.ParserError
		if errors.As(err, &pe) {
			line, col := offsetPos(data, pe.Highlight)
			return nil, &Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: "syntax error: " + pe.Message}
		}
		return nil, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "syntax error: " + err.Error()}
	}
	return ix, nil
}

// tablePath resolves a [a.b] or [[a.b]] header: a part that names an array
// of tables means its last element, as TOML says.
func (ix *index) tablePath(e *unstable.Node, array bool) string {
	var parts []string
	it := e.Key()
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	path := ""
	for i, part := range parts {
		path = join(path, part)
		if array && i == len(parts)-1 {
			n := ix.counts[path]
			ix.counts[path] = n + 1
			return path + "[" + strconv.Itoa(n) + "]"
		}
		if n, ok := ix.counts[path]; ok {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

func (ix *index) keyValue(p *unstable.Parser, file, table string, e *unstable.Node) {
	path := table
	var last *unstable.Node
	it := e.Key()
	for it.Next() {
		last = it.Node()
		path = join(path, string(last.Data))
	}
	keyPos := ix.pos(p, file, last)
	ix.setKey(path, keyPos)
	ix.value(p, file, path, keyPos, e.Value())
}

func (ix *index) value(p *unstable.Parser, file, path string, fallback Pos, v *unstable.Node) {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				ix.keyValue(p, file, path, c)
			}
		}
	case unstable.Array:
		it := v.Children()
		i := 0
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			elem := path + "[" + strconv.Itoa(i) + "]"
			i++
			pos := fallback
			if c.Raw.Length > 0 {
				pos = ix.pos(p, file, c)
			}
			ix.setKey(elem, pos)
			ix.val[elem] = pos
			ix.value(p, file, elem, pos, c)
		}
	default:
		if v.Raw.Length > 0 {
			ix.val[path] = ix.pos(p, file, v)
		}
	}
}

func (ix *index) setKey(path string, pos Pos) {
	if ix.n++; ix.n > maxKeys && ix.over == nil {
		ix.over = &pos
	}
	ix.key[path] = pos
	ix.byPos[[2]int{pos.Line, pos.Col}] = path
}

func (ix *index) pos(p *unstable.Parser, file string, n *unstable.Node) Pos {
	if n == nil || n.Raw.Length == 0 {
		return Pos{File: file}
	}
	sh := p.Shape(n.Raw)
	return Pos{File: file, Line: sh.Start.Line, Col: sh.Start.Column}
}

// has reports whether path was written in the file, as a key or as an
// array of tables ([[group.resources]] writes group[0].resources[0]).
func (ix *index) has(path string) bool {
	if _, ok := ix.key[path]; ok {
		return true
	}
	_, ok := ix.key[path+"[0]"]
	return ok
}

// at returns where to report a problem with path: its value if written, else
// its key, else the nearest written parent (a defaulted key is reported at
// its table), else the top of the file.
func (ix *index) at(path string) Pos {
	if p, ok := ix.val[path]; ok {
		return p
	}
	for path != "" {
		if p, ok := ix.key[path]; ok {
			return p
		}
		path = parent(path)
	}
	return Pos{File: ix.file, Line: 1, Col: 1}
}

// parent drops the last element of a key path: "a.b[2]" -> "a.b", "a.b" -> "a".
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func lastKey(e *unstable.Node) *unstable.Node {
	var last *unstable.Node
	it := e.Key()
	for it.Next() {
		last = it.Node()
	}
	return last
}

// offsetPos returns the line and column where h starts in data, or 1:1 when
// h is not a slice of data (go-toml promises it is; a config error must not
// panic either way).
func offsetPos(data, h []byte) (line, col int) {
	off := cap(data) - cap(h)
	if h == nil || off < 0 || off > len(data) {
		return 1, 1
	}
	line, start := 1, 0
	for i := 0; i < off; i++ {
		if data[i] == '\n' {
			line, start = line+1, i+1
		}
	}
	return line, off - start + 1
}

// childKeys returns the keys written directly under the table at path.
func (ix *index) childKeys(path string) []string {
	seen := map[string]bool{}
	var keys []string
	prefix := path + "."
	for k := range ix.key {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexAny(rest, ".["); i >= 0 {
			rest = rest[:i]
		}
		if !seen[rest] {
			seen[rest] = true
			keys = append(keys, rest)
		}
	}
	slices.Sort(keys)
	return keys
}

// onLine returns a key path indexed on line, its column, and how many
// are.
func (ix *index) onLine(line int) (path string, col, n int) {
	for pos, p := range ix.byPos {
		if pos[0] == line {
			path, col, n = p, pos[1], n+1
		}
	}
	return path, col, n
}

// indexed returns the key path written on line that is plain (a path
// without element numbers, as go-toml names keys) once its numbers are
// dropped: "service.reals" on line 33 is "service[0].reals".
func (ix *index) indexed(plain string, line int) (string, bool) {
	for p, pos := range ix.key {
		if pos.Line == line && unnumbered(p) == plain {
			return p, true
		}
	}
	return "", false
}

// unnumbered drops the element numbers of path: "a[1].b[0]" is "a.b".
func unnumbered(path string) string {
	var b strings.Builder
	depth := 0
	for _, r := range path {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
