package check

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/runner"
)

// Type is one check type: the settings it uses, its own validation and its
// constructor. Adding a check type costs its Checker's file and one row in
// types.
type Type struct {
	Name string // as written in type = "..."; "N" stands for any positive integer
	// Keys are the Spec settings the type uses besides the common ones
	// (type, interval, timeout, rise, fall), by their config key names.
	Keys []string
	// UDP reports whether the type can probe a UDP service (a UDP connect
	// probes nothing).
	UDP bool
	// UDPOnly reports whether the type probes over UDP whatever the
	// service's protocol, so it cannot probe a TCP service (hapair's SIP
	// check sends OPTIONS over UDP; ldirectord's check_sip used the
	// service's protocol).
	UDPOnly bool

	validate func(s Spec) error // type-specific rules, after defaults; nil: none
	build    func(s Spec) Checker
}

// types is the table of check types, in the order DESIGN.md lists them.
var types = []*Type{
	{Name: "connect", Keys: []string{"port"}, build: func(s Spec) Checker { return &ConnectChecker{Timeout: s.Timeout} }},
	{Name: "negotiate", Keys: []string{"port", "request", "host", "receive", "status"}, validate: needReceive,
		build: func(s Spec) Checker { return newHTTPChecker(s) }},
	{Name: "http", Keys: []string{"port", "request", "host", "status"}, build: func(s Spec) Checker { return newHTTPChecker(s) }},
	{Name: "sip", Keys: []string{"port"}, UDP: true, UDPOnly: true, build: func(s Spec) Checker { return newSIPChecker(s) }},
	{Name: "external", Keys: []string{"program", "args"}, UDP: true, validate: needProgram,
		build: func(s Spec) Checker {
			return &ExternalChecker{Program: s.Program, Args: s.Args, Virtual: s.Virtual, Timeout: s.Timeout}
		}},
	{Name: "N", Keys: []string{"port", "request", "host", "receive", "status"}, validate: needReceive, build: newMixed},
}

// keys are the type-specific settings of a Spec and whether each is set.
var keys = []struct {
	name string
	set  func(s *Spec) bool
}{
	{"port", func(s *Spec) bool { return s.Port != 0 }},
	{"request", func(s *Spec) bool { return s.Request != "" }},
	{"host", func(s *Spec) bool { return s.Host != "" }},
	{"receive", func(s *Spec) bool { return s.Receive != nil }},
	{"status", func(s *Spec) bool { return s.Status != 0 }},
	{"program", func(s *Spec) bool { return s.Program != "" }},
	{"args", func(s *Spec) bool { return s.Args != nil }},
}

// Off is the type name for no check at all: every real counts as up, as
// with ldirectord's checktype=on. It is not a row of the table: a
// service whose check is off has Spec.Type "" (see Spec.Type).
const Off = "off"

// CommonKeys are the settings every check type takes.
var CommonKeys = []string{"type", "interval", "timeout", "rise", "fall"}

// AllKeys returns every setting some check type takes: CommonKeys and
// each type's Keys.
func AllKeys() []string {
	all := slices.Clone(CommonKeys)
	for _, k := range keys {
		all = append(all, k.name)
	}
	return all
}

// Types returns the check type names, "N" standing for a positive integer.
func Types() []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name
	}
	return names
}

// Lookup returns the Type called name; a positive integer is type "N"
// (connect every interval, negotiate every Nth, as ldirectord's
// checktype=N). The error is a *field.Error for "type".
func Lookup(name string) (*Type, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 1 {
			return nil, field.Errorf("type", "%q: N must be a positive integer (connect every interval, negotiate every Nth)", name)
		}
		name = "N"
	}
	for _, t := range types {
		if t.Name == name {
			return t, nil
		}
	}
	if name == "" {
		return nil, field.Errorf("type", "required: one of %s (N a positive integer), or %s", strings.Join(Types(), ", "), Off)
	}
	return nil, field.Errorf("type", "%q is not one of %s (N a positive integer), or %s", name, strings.Join(Types(), ", "), Off)
}

// UnusedKey returns the *field.Error for a setting key written for a check
// of type typ that does not use it.
func UnusedKey(typ, key string) error {
	var users []string
	for _, u := range types {
		if u.uses(key) {
			users = append(users, u.Name)
		}
	}
	if i := slices.Index(users, "N"); i >= 0 {
		users[i] = "a number N" // a bare "N" reads as a type called N
	}
	if len(users) == 0 {
		return field.Errorf(key, "key %q is not used by check type %q", key, typ)
	}
	return field.Errorf(key, "key %q is not used by check type %q (only by %s)", key, typ, strings.Join(users, ", "))
}

// Uses reports whether t takes the setting key: one of CommonKeys or of
// t.Keys.
func (t *Type) Uses(key string) bool { return slices.Contains(CommonKeys, key) || t.uses(key) }

// uses reports whether t takes the setting key; a nil t uses nothing.
func (t *Type) uses(key string) bool { return t != nil && slices.Contains(t.Keys, key) }

func needReceive(s Spec) error {
	if s.Receive == nil {
		return field.Errorf("receive", "required for check type %q: a regexp the response must match", s.Type)
	}
	return nil
}

// needProgram wants an absolute program path: had runs it with no shell
// and no PATH search, so a relative name would depend on had's working
// directory.
func needProgram(s Spec) error {
	switch {
	case s.Program == "":
		return field.Errorf("program", "required for check type %q", s.Type)
	case !filepath.IsAbs(s.Program):
		return field.Errorf("program", "%q: want an absolute path", s.Program)
	}
	return textErrors("program", s.Program, s.Args)
}

// textErrors reports a program path and arguments had cannot pass to the
// program (runner.TextError), as *field.Error values for key and "args[i]".
func textErrors(key, program string, args []string) error {
	var errs []error
	if err := runner.TextError(program); err != nil {
		errs = append(errs, field.Errorf(key, "%v", err))
	}
	for i, a := range args {
		if err := runner.TextError(a); err != nil {
			errs = append(errs, field.Errorf(field.Index("args", i), "%v", err))
		}
	}
	return errors.Join(errs...)
}

func newMixed(s Spec) Checker {
	n, _ := strconv.Atoi(s.Type)
	neg := s
	neg.Type = "negotiate"
	return &MixedChecker{N: n, Connect: &ConnectChecker{Timeout: s.Timeout}, Negotiate: newHTTPChecker(neg)}
}
