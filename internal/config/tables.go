package config

import (
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// header is a [table] header: its key path and the parts as written.
type header struct {
	path  string   // "service[0].reals"
	parts []string // "service", "reals"
}

func keyParts(e *unstable.Node) []string {
	var parts []string
	it := e.Key()
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// tableKinds reports [x] headers that name an array of tables, which the
// file must write [[x]]: go-toml decodes such a table as one element that
// holds none of its keys, and the check then called every key under it
// missing. (decodeError words the opposite mistake.)
func (ix *index) tableKinds() Errors {
	var errs Errors
	for _, h := range ix.tables {
		// Written both ways: the decode's own error says so at the [[x]].
		if ix.counts[h.path] > 0 {
			continue
		}
		if isArrayOfTables(reflect.TypeOf(rawFile{}), h.parts) {
			name := strings.Join(h.parts, ".")
			errs = append(errs, &Error{Pos: ix.key[h.path], Path: h.path,
				Msg: "want [[" + name + "]] (an array of tables), not [" + name + "] (one table)"})
		}
	}
	return errs
}

// isArrayOfTables reports whether the key parts lead, through the raw
// structs' toml tags, to a slice of tables.
func isArrayOfTables(t reflect.Type, parts []string) bool {
	for i, part := range parts {
		for t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		f, ok := fieldByTag(t, part)
		if !ok {
			return false
		}
		t = f.Type
		if i == len(parts)-1 {
			return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct
		}
	}
	return false
}
