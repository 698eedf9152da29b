// Package field tags a validation error with the setting it concerns, so
// that the package owning a setting can validate it and the config package
// can report the problem at the key the user wrote.
//
// A domain package (ha, ha/link, ha/vip, proxy, proxy/check) returns
// field.Errorf("deadtime", "...") or wraps the errors of a nested value with
// field.In("check", err); internal/config walks the result with All and
// maps each Path onto a key path and a file position. Paths use the names of
// the config keys ("keepalive", "reals[1].weight") because those are the
// field's standard terms (Heartbeat, ldirectord, keepalived).
//
// The package is pure: stdlib only, no I/O.
package field

import (
	"errors"
	"fmt"
	"strconv"
)

// Error is a problem with one setting.
type Error struct {
	// Path names the setting within the value validated: "keepalive",
	// "check.receive", "reals[2].address". "" means the value as a whole.
	Path string
	// Msg says what is wrong, lowercase, without the setting's name.
	Msg string
	// First is the path of an earlier setting this one repeats (a name or
	// address used twice); "" when none. Error appends "(first at First)";
	// the config package appends the file position instead.
	First string
	// Key is true when the key itself is wrong (a node name used as a map
	// key that is no node), so the problem is placed at the key, not at
	// its value.
	Key bool
}

// Error returns "path: msg" ("msg" when Path is empty), with "(first at
// FIRST)" when First is set.
func (e *Error) Error() string {
	msg := e.Msg
	if e.First != "" {
		msg += " (first at " + e.First + ")"
	}
	if e.Path == "" {
		return msg
	}
	return e.Path + ": " + msg
}

// Errorf returns an *Error for the setting at path.
func Errorf(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// KeyErrorf returns an *Error for the key at path itself.
func KeyErrorf(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...), Key: true}
}

// Repeated returns an *Error for the setting at path repeating the one at
// first.
func Repeated(path, first, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...), First: first}
}

// In returns err with every *Error in it (see All) moved under prefix:
// In("check", Errorf("receive", ...)) concerns "check.receive". Errors that
// are not *Error become an *Error for prefix itself. nil stays nil.
func In(prefix string, err error) error {
	if err == nil {
		return nil
	}
	all := All(err)
	out := make([]error, len(all))
	for i, e := range all {
		first := e.First
		if first != "" {
			first = join(prefix, first)
		}
		out[i] = &Error{Path: join(prefix, e.Path), Msg: e.Msg, First: first, Key: e.Key}
	}
	return errors.Join(out...)
}

// Index returns "path[i]", the path of element i of the list at path.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// All flattens err (joined with errors.Join, or wrapped) into its field
// errors. An error that carries no *Error becomes one with an empty Path.
func All(err error) []*Error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range j.Unwrap() {
			out = append(out, All(e)...)
		}
		return out
	}
	if fe, ok := err.(*Error); ok {
		return []*Error{fe}
	}
	var fe *Error
	if errors.As(err, &fe) {
		return []*Error{fe}
	}
	return []*Error{{Msg: err.Error()}}
}

func join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}
