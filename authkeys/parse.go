package authkeys

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// maxLine bounds one line; a longer line is an error, not a huge allocation.
const maxLine = 4096

// minSecret is the secret length below which Parse warns. 16 bytes is the
// 128-bit floor for an HMAC key; Heartbeat's own sample used "HI!".
const minSecret = 16

// Error is one problem in an authkeys file, placed the way config errors
// are: FILE:LINE:COL, the column of the field at fault.
type Error struct {
	File      string
	Line, Col int // from 1; Line 0: the whole file
	Msg       string
}

// Error formats e as FILE:LINE:COL: message, or FILE: message for the
// whole file.
func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in one authkeys file, in file order: the
// error of Parse, and of Load for a file it refuses.
type Errors []*Error

// Error returns one error per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Parse parses Heartbeat format from r; name is the file name used in
// errors and warnings (name:line:col: ...).
//
// Every problem in the file is reported: the error is an Errors, one line
// each. Warnings (legacy methods, short secrets), in the same form, never
// fail the parse. Neither ever contains a secret.
func Parse(r io.Reader, name string) (*Keyring, []string, error) {
	p := parser{name: name, kr: &Keyring{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	for sc.Scan() {
		p.line++
		p.raw = sc.Text()
		p.parseLine(p.raw)
	}
	if err := sc.Err(); err != nil {
		// The rest of the file was not read, so whole-file checks would
		// only add noise.
		if errors.Is(err, bufio.ErrTooLong) {
			p.line, p.raw = p.line+1, ""
			p.errorf(0, "line longer than %d bytes", maxLine)
		} else {
			p.errs = append(p.errs, &Error{File: name, Msg: "reading: " + err.Error()})
		}
	} else {
		p.finish()
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		return nil, p.warns, p.errs
	}
	return p.kr, p.warns, nil
}

type parser struct {
	name     string
	line     int
	raw      string // the line being parsed, for columns
	kr       *Keyring
	keyLine  [256]int  // line that defined each key id, 0 = none
	seen     [256]bool // a line for this key id existed, valid or not
	authLine int       // line of the "auth N" directive, 0 = none yet
	authRaw  string    // that line
	authID   uint8
	errs     Errors
	warns    []string
}

// at is the error for field i (0-based, as strings.Fields splits the
// line) of the current line; a line with fewer fields points at its end.
func (p *parser) at(i int, msg string) *Error {
	return &Error{File: p.name, Line: p.line, Col: fieldCol(p.raw, i), Msg: msg}
}

func (p *parser) errorf(field int, format string, args ...any) {
	p.errs = append(p.errs, p.at(field, fmt.Sprintf(format, args...)))
}

func (p *parser) warnf(field int, format string, args ...any) {
	p.warns = append(p.warns, p.at(field, fmt.Sprintf(format, args...)).Error())
}

// fieldCol is the 1-based byte column where field i of raw starts (fields
// split on white space, as strings.Fields), or one past the end.
func fieldCol(raw string, i int) int {
	n, in := -1, false
	for j, r := range raw {
		space := unicode.IsSpace(r)
		if !space && !in {
			if n++; n == i {
				return j + 1
			}
		}
		in = !space
	}
	return len(raw) + 1
}

func (p *parser) parseLine(raw string) {
	line := strings.TrimSpace(raw)
	if line == "" || line[0] == '#' {
		return
	}
	fields := strings.Fields(line)
	if fields[0] == "auth" {
		p.parseAuth(fields)
		return
	}
	if len(fields) == 1 {
		// One bare word may be a pasted secret: do not echo it.
		p.errorf(0, `want "auth N" or "N method secret", found a line with one field`)
		return
	}
	id, ok := parseID(fields[0])
	if !ok {
		p.errorf(0, `key id %q: want a number 1..255 ("N method secret")`, fields[0])
		return
	}
	p.seen[id] = true
	name := strings.ToLower(fields[1])
	// The secret is the rest of the line, as Heartbeat reads it: it may hold
	// spaces and '#'. fields and TrimSpace split on the same white space.
	rest := strings.TrimSpace(line[len(fields[0]):])
	secret := strings.TrimSpace(rest[len(fields[1]):])

	if why, bad := refused[name]; bad {
		p.errorf(1, "key %d: method %s refused: %s", id, name, why)
		return
	}
	m, known := methods[name]
	if !known {
		p.errorf(1, "unknown method %q for key %d (want sha256, sha1 or md5)", fields[1], id)
		return
	}
	if secret == "" {
		p.errorf(2, `key %d: %s needs a secret ("%d %s SECRET")`, id, name, id, name)
		return
	}
	if first := p.keyLine[id]; first != 0 {
		p.errorf(0, "key %d defined again (first on line %d)", id, first)
		return
	}
	p.keyLine[id] = p.line
	p.kr.keys[id] = &key{m: m, secret: []byte(secret)}
	if m.legacy {
		p.warnf(1, "key %d uses %s, a legacy method accepted only for migration; switch to sha256", id, name)
	}
	if len(secret) < minSecret {
		p.warnf(2, "key %d: secret is only %d bytes, want at least %d random bytes (e.g. from `openssl rand -hex 32`)", id, len(secret), minSecret)
	}
}

func (p *parser) parseAuth(fields []string) {
	if len(fields) != 2 {
		p.errorf(min(len(fields)-1, 2), `want "auth N" with one key id, found %d fields`, len(fields))
		return
	}
	id, ok := parseID(fields[1])
	if !ok {
		p.errorf(1, `auth %q: want a key id 1..255`, fields[1])
		return
	}
	if p.authLine != 0 {
		p.errorf(0, `second "auth" line (first on line %d): exactly one key signs`, p.authLine)
		return
	}
	p.authLine, p.authRaw, p.authID = p.line, p.raw, id
}

// finish runs the checks that need the whole file.
func (p *parser) finish() {
	switch {
	case p.authLine == 0:
		p.errs = append(p.errs, &Error{File: p.name, Msg: `no "auth N" line to say which key signs`})
	case !p.seen[p.authID]:
		p.line, p.raw = p.authLine, p.authRaw
		p.errorf(1, "auth %d: no key %d in the file", p.authID, p.authID)
	case p.kr.keys[p.authID] == nil:
		// The key's own line was reported already.
	default:
		p.kr.signID = p.authID
	}
}

// parseID parses a key id, 1..255 in decimal.
func parseID(s string) (uint8, bool) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint8(n), true
}
