package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/hapair/hapair/internal/regfile"
)

// maxFileSize bounds what Load reads; a real had.toml is a few KiB.
const maxFileSize = 4 << 20

// Options are what Load and Parse read a file with.
type Options struct {
	// Services reads the [[service]] section (required): the balancer's
	// defaults and rules, which node passes in (node/serviceconf).
	Services ServiceRules
	// Resolver looks up the host names written for reals, backups and
	// fallbacks (nil: DefaultResolver); a reload passes one that keeps a
	// name's last address when it stops resolving.
	Resolver Resolver
	// Host, when not nil, is asked about this host once the file is
	// otherwise valid, so a probe never runs for a broken file: the
	// pieces each resource kind needs, reported at the first resource of
	// that kind ("FILE:LINE:COL: group[0].resources[2].kind: ..."), the
	// way had would refuse it at start or at its first takeover; with
	// Host.Net, every interface and own address the config names that
	// this host lacks, at its key.
	Host *Host
}

// errNoServiceRules is Options' misuse, not the file's.
var errNoServiceRules = errors.New("config: Options.Services is nil: the [[service]] section cannot be read without the balancer's rules")

// Load reads and validates the config file at path. When the file is
// invalid the error is an Errors holding every problem.
func Load(path string, o Options) (*Config, error) {
	if o.Services == nil {
		return nil, errNoServiceRules
	}
	// A FIFO or device at the path would block or never end: regular
	// files only, checked on the opened file.
	// The errors are hactl's and had's messages as they are: sentences
	// naming the file, without this package's name.
	f, fi, err := regfile.Open(path)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return nil, fmt.Errorf("cannot read %s: %w", pe.Path, pe.Err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, larger than the %d-byte limit", path, fi.Size(), maxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return Parse(data, path, o)
}

// Parse validates data, a had.toml read from filename (used in positions).
// When data is invalid the error is an Errors holding every problem, sorted
// by position.
func Parse(data []byte, filename string, o Options) (*Config, error) {
	if o.Services == nil {
		return nil, errNoServiceRules
	}
	// Windows editors start a UTF-8 file with a byte order mark; TOML has
	// no use for it, and positions count from the text after it.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if i := bytes.IndexByte(data, 0); i >= 0 {
		// A NUL is in no TOML text: this is a binary file, and the
		// parser's complaint about its first odd byte would not say so.
		line := 1 + bytes.Count(data[:i], []byte("\n"))
		col := 1 + i - (bytes.LastIndexByte(data[:i], '\n') + 1)
		return nil, Errors{{Pos: Pos{File: filename, Line: line, Col: col}, Msg: "a NUL byte: this is a binary file, not a TOML text"}}
	}
	ix, serr := buildIndex(data, filename)
	if serr != nil {
		return nil, Errors{serr}
	}
	if errs := ix.tableKinds(); len(errs) > 0 {
		return nil, errs
	}
	var raw rawFile
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var errs Errors
	if err := dec.Decode(&raw); err != nil {
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case errors.As(err, &strict):
			// Strict errors do not stop the decode: raw is complete, so
			// validation below still runs and reports its own errors.
			for i := range strict.Errors {
				errs = append(errs, unknownKey(ix, filename, &strict.Errors[i]))
			}
		case errors.As(err, &de):
			return nil, Errors{decodeError(ix, filename, de)}
		default:
			return nil, Errors{{Pos: Pos{File: filename, Line: 1, Col: 1}, Msg: err.Error()}}
		}
	}
	c := conv{ix: ix, resolver: o.Resolver, rules: o.Services}
	cfg := c.config(&raw, filename)
	if h := o.Host; h != nil && len(errs) == 0 && len(c.errs) == 0 {
		c.probeHost(cfg, h)
		c.probeKernel(cfg, h)
		c.probePrograms(cfg, h)
		if h.Net != nil {
			c.probeNet(cfg, h)
		}
	}
	errs = append(errs, c.errs...)
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return cfg, nil
}

// typeMismatch is go-toml's message for a value of the wrong TOML type,
// which names Go types the user never wrote.
var typeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+(?: \w+)?) into struct field \S+ of type (\S+)$`)

// decodeError turns the error that stopped the decode into an Error with
// the full key path (array elements numbered, from the key's or the
// value's position)
// and, for a wrong type, the TOML types wanted and found.
func decodeError(ix *index, file string, de *toml.DecodeError) *Error {
	line, col := de.Position()
	path := strings.Join(de.Key(), ".")
	if p, ok := ix.indexed(path, line); ok { // go-toml's key has no element numbers
		path = p
	}
	if p, ok := ix.byPos[[2]int{line, col}]; ok { // a key defined twice
		path = p
	}
	for p, pos := range ix.val {
		if pos.Line == line && pos.Col == col {
			path = p
			break
		}
	}
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	// go-toml's words for a table written as the other kind of table.
	switch {
	case strings.HasPrefix(msg, "cannot store an array table in a struct"):
		msg = fmt.Sprintf("want [%s] (one table), not [[%[1]s]] (an array of tables)", lastPart(de.Key()))
	case strings.HasSuffix(msg, "already exists as a table, but should be an array table"):
		msg = fmt.Sprintf("written [%s] before (one table) and [[%[1]s]] here (an array of tables): write [[%[1]s]] every time", lastPart(de.Key()))
	}
	if m := typeMismatch.FindStringSubmatch(msg); m != nil {
		want := "a table"
		switch t := m[2]; {
		case t == "string":
			want = "a string"
		case strings.HasPrefix(t, "[]"):
			want = "an array"
		case t == "bool":
			want = "a boolean"
		case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
			want = "an integer"
		case strings.HasPrefix(t, "float"):
			want = "a number"
		}
		msg = fmt.Sprintf("want %s, not a TOML %s", want, m[1])
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: col}, Path: path, Msg: msg}
}

// lastPart is the last part of a key, "" for none.
func lastPart(key []string) string {
	if len(key) == 0 {
		return ""
	}
	return key[len(key)-1]
}

// unknownKey turns one StrictMissingError entry into an Error with the full
// key path (array elements numbered) and a spelling suggestion.
func unknownKey(ix *index, file string, de *toml.DecodeError) *Error {
	line, col := de.Position()
	path, ok := ix.byPos[[2]int{line, col}]
	if !ok {
		// A dotted table header ([[service.real]]) is reported at its
		// first part and indexed at its last: the line's only key.
		path = strings.Join(de.Key(), ".")
		if p, col1, n := ix.onLine(line); n == 1 {
			path, col = p, col1
		}
	}
	// An unknown array of tables ([[services]]) is indexed like a known
	// one: the key is its name.
	table := path
	for strings.HasSuffix(table, "]") {
		table = parent(table)
	}
	key := table
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	msg := fmt.Sprintf("unknown key %q", key)
	if s := suggest(key, keysAt(parent(table))); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if where := tablesWith(key); len(where) > 0 {
		// A key in the wrong table, or above the first [table] header.
		msg += fmt.Sprintf(" here (it belongs in %s)", strings.Join(where, ", "))
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: col}, Path: path, Msg: msg}
}

// tablesWith lists the tables of the schema that take key, written as
// their headers are: "[cluster]", "[[link]]", "[[group.resources]]".
func tablesWith(key string) []string {
	var out []string
	var walk func(dotted, header string, t reflect.Type)
	walk = func(dotted, header string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, ft := f.Tag.Get("toml"), f.Type
			if tag == key && header != "" && !slices.Contains(out, header) {
				out = append(out, header)
			}
			array := ft.Kind() == reflect.Slice
			for ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct {
				continue
			}
			sub := join(dotted, tag)
			if array {
				walk(sub, "[["+sub+"]]", ft)
			} else {
				walk(sub, "["+sub+"]", ft)
			}
		}
	}
	walk("", "", reflect.TypeOf(rawFile{}))
	return out
}

// keysAt lists the keys the schema allows in the table at path, from the
// raw structs' toml tags.
func keysAt(path string) []string {
	t := reflect.TypeOf(rawFile{})
	if path != "" {
		for _, seg := range strings.Split(path, ".") {
			if i := strings.IndexByte(seg, '['); i >= 0 {
				seg = seg[:i]
			}
			f, ok := fieldByTag(t, seg)
			if !ok {
				return nil
			}
			t = f.Type
			for t.Kind() == reflect.Slice {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct {
				return nil
			}
		}
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		keys = append(keys, t.Field(i).Tag.Get("toml"))
	}
	return keys
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("toml") == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// suggest returns the known key closest to key, if it is a likely typo
// (edit distance at most 2).
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, bounded to short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
