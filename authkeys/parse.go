package authkeys

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxLine bounds one line; a longer line is an error, not a huge allocation.
const maxLine = 4096

// minSecret is the secret length below which Parse warns. 16 bytes is the
// 128-bit floor for an HMAC key; Heartbeat's own sample used "HI!".
const minSecret = 16

// Parse parses Heartbeat format from r; name is used in errors (name:line: ...).
//
// Every problem in the file is reported, joined into one error, one line each.
// Warnings (legacy methods, short secrets) never fail the parse. Neither ever
// contains a secret.
func Parse(r io.Reader, name string) (*Keyring, []string, error) {
	p := parser{name: name, kr: &Keyring{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxLine)
	for sc.Scan() {
		p.line++
		p.parseLine(sc.Text())
	}
	if err := sc.Err(); err != nil {
		// The rest of the file was not read, so whole-file checks would
		// only add noise.
		if errors.Is(err, bufio.ErrTooLong) {
			p.line++
			p.errorf("line longer than %d bytes", maxLine)
		} else {
			p.errs = append(p.errs, fmt.Errorf("authkeys: reading %s: %w", name, err))
		}
	} else {
		p.finish()
	}
	if len(p.errs) > 0 {
		return nil, p.warns, errors.Join(p.errs...)
	}
	return p.kr, p.warns, nil
}

type parser struct {
	name     string
	line     int
	kr       *Keyring
	keyLine  [256]int  // line that defined each key id, 0 = none
	seen     [256]bool // a line for this key id existed, valid or not
	authLine int       // line of the "auth N" directive, 0 = none yet
	authID   uint8
	errs     []error
	warns    []string
}

func (p *parser) errorf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("authkeys: %s:%d: %s", p.name, p.line, fmt.Sprintf(format, args...)))
}

func (p *parser) warnf(format string, args ...any) {
	p.warns = append(p.warns, fmt.Sprintf("authkeys: %s:%d: %s", p.name, p.line, fmt.Sprintf(format, args...)))
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
		p.errorf(`want "auth N" or "N method secret", found a line with one field`)
		return
	}
	id, ok := parseID(fields[0])
	if !ok {
		p.errorf(`key id %q: want a number 1..255 ("N method secret")`, fields[0])
		return
	}
	p.seen[id] = true
	name := strings.ToLower(fields[1])
	// The secret is the rest of the line, as Heartbeat reads it: it may hold
	// spaces and '#'. fields and TrimSpace split on the same white space.
	rest := strings.TrimSpace(line[len(fields[0]):])
	secret := strings.TrimSpace(rest[len(fields[1]):])

	if why, bad := refused[name]; bad {
		p.errorf("key %d: method %s refused: %s", id, name, why)
		return
	}
	m, known := methods[name]
	if !known {
		p.errorf("unknown method %q for key %d (want sha256, sha1 or md5)", fields[1], id)
		return
	}
	if secret == "" {
		p.errorf(`key %d: %s needs a secret ("%d %s SECRET")`, id, name, id, name)
		return
	}
	if first := p.keyLine[id]; first != 0 {
		p.errorf("key %d defined again (first on line %d)", id, first)
		return
	}
	p.keyLine[id] = p.line
	p.kr.keys[id] = &key{m: m, secret: []byte(secret)}
	if m.legacy {
		p.warnf("key %d uses %s, a legacy method accepted only for migration; switch to sha256", id, name)
	}
	if len(secret) < minSecret {
		p.warnf("key %d: secret is only %d bytes, want at least %d random bytes (e.g. from `openssl rand -hex 32`)", id, len(secret), minSecret)
	}
}

func (p *parser) parseAuth(fields []string) {
	if len(fields) != 2 {
		p.errorf(`want "auth N" with one key id, found %d fields`, len(fields))
		return
	}
	id, ok := parseID(fields[1])
	if !ok {
		p.errorf(`auth %q: want a key id 1..255`, fields[1])
		return
	}
	if p.authLine != 0 {
		p.errorf(`second "auth" line (first on line %d): exactly one key signs`, p.authLine)
		return
	}
	p.authLine, p.authID = p.line, id
}

// finish runs the checks that need the whole file.
func (p *parser) finish() {
	switch {
	case p.authLine == 0:
		p.errs = append(p.errs, fmt.Errorf(`authkeys: %s: no "auth N" line to say which key signs`, p.name))
	case !p.seen[p.authID]:
		p.line = p.authLine
		p.errorf("auth %d: no key %d in the file", p.authID, p.authID)
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
