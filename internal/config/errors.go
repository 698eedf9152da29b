package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a config file. Line and Col start at 1; Line 0 means the
// error concerns the whole file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem in a config file.
type Error struct {
	Pos  Pos
	Path string // key path, e.g. "service[1].check.interval"; "" for syntax errors
	Msg  string
}

// Error formats e as FILE:LINE:COL: key.path: message.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Pos.String() + ": " + e.Msg
	}
	return e.Pos.String() + ": " + e.Path + ": " + e.Msg
}

// Errors is every problem found in one file, in file order. Parse and Load
// return it as their error when the file is invalid.
type Errors []*Error

// Error returns one error per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
}
