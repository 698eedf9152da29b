package l7

import (
	"bufio"
	"bytes"
	"net/netip"
	"strconv"
)

// This file reads the request heads the fast path forwards itself: HTTP/1.1
// and HTTP/1.0 (RFC 9112) in origin form, every line ended by CRLF, no
// obs-fold, at most one Host and one Content-Length, no Transfer-Encoding,
// Expect, Upgrade, TE or Trailer, and no Connection option but close and
// keep-alive. parseRequest refuses nothing: a head outside that subset
// goes to net/http's server (the slow path), which serves or refuses it
// exactly as it did before the fast path existed.

// field is one header field; both slices point into a read buffer.
type field struct{ name, value []byte }

// reqHead is a request head of the fast subset. Its slices point into the
// client's reader and are good only until the head is discarded from it;
// what is needed after that is kept in the booleans.
type reqHead struct {
	method, target, host []byte
	head                 bool // the method is HEAD: no answer has a body
	http10               bool
	hasHost              bool
	length               int64 // Content-Length; 0 when absent
	close                bool  // Connection: close
	keepAlive            bool  // Connection: keep-alive (an HTTP/1.0 client's opt-in)
	idempotencyKey       bool  // Idempotency-Key or X-Idempotency-Key present
	idempotent           bool  // the method is (RFC 9110 section 9.2.2)
	xff                  [][]byte
	fields               []field // to forward, hop-by-hop and X-Forwarded-* left out
}

// keepOpen reports whether the client allows another request on the
// connection after this one (RFC 9112 section 9.3).
func (h *reqHead) keepOpen() bool {
	if h.http10 {
		return h.keepAlive && !h.close
	}
	return !h.close
}

// replayable is the slow path's replayable for a fast-path head: no body,
// and idempotent (RFC 9110 section 9.2.2) or marked as safe to retry.
func (h *reqHead) replayable() bool {
	return h.length == 0 && (h.idempotent || h.idempotencyKey)
}

// headScan finds the end of a head as its bytes arrive: next is where the
// next unscanned line starts.
type headScan struct{ next int }

// end returns the length of the head in b through its empty line (CRLF or
// a bare LF, which RFC 9112 section 2.2 lets a recipient accept), or -1
// when b does not hold all of it yet.
func (s *headScan) end(b []byte) int {
	for {
		i := bytes.IndexByte(b[s.next:], '\n')
		if i < 0 {
			return -1
		}
		line := b[s.next : s.next+i]
		s.next += i + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return s.next
		}
	}
}

// peekHead returns the next head buffered in br without consuming it. A
// nil head and nil error mean that it does not fit in br's buffer.
func peekHead(br *bufio.Reader) ([]byte, error) {
	var s headScan
	for {
		b, _ := br.Peek(br.Buffered())
		if n := s.end(b); n > 0 {
			return b[:n], nil
		}
		if len(b) == br.Size() {
			return nil, nil
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return nil, err
		}
	}
}

// cutLine splits off the first line of b, which must end in CRLF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// parseRequest fills h from head (through its empty line) and reports
// whether the head is in the fast subset.
func parseRequest(head []byte, h *reqHead) bool {
	*h = reqHead{xff: h.xff[:0], fields: h.fields[:0]}
	line, rest, ok := cutLine(head)
	if !ok || !parseRequestLine(line, h) {
		return false
	}
	seenLength := false
	for {
		if line, rest, ok = cutLine(rest); !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitField(line)
		if !ok {
			return false
		}
		switch {
		case is(name, "Host"):
			if h.hasHost || !validHost(value) {
				return false
			}
			h.host, h.hasHost = value, true
			continue
		case is(name, "Content-Length"):
			if seenLength || len(value) == 0 || len(value) > 18 || !allDigits(value) {
				return false
			}
			seenLength = true
			h.length, _ = strconv.ParseInt(string(value), 10, 64)
		case is(name, "Connection"):
			if !connectionOptions(value, h) {
				return false
			}
			continue
		case is(name, "Transfer-Encoding"), is(name, "Expect"), is(name, "Upgrade"), is(name, "Te"), is(name, "Trailer"):
			return false
		case is(name, "Keep-Alive"), is(name, "Proxy-Connection"), is(name, "Proxy-Authenticate"), is(name, "Proxy-Authorization"),
			is(name, "Forwarded"), is(name, "X-Forwarded-Host"), is(name, "X-Forwarded-Proto"):
			continue // hop-by-hop, or set by the proxy: httputil.ReverseProxy drops them
		case is(name, "X-Forwarded-For"):
			h.xff = append(h.xff, value)
			continue
		case is(name, "Idempotency-Key"), is(name, "X-Idempotency-Key"):
			h.idempotencyKey = true
		}
		h.fields = append(h.fields, field{name, value})
	}
	// RFC 9112 section 3.2: an HTTP/1.1 request without Host is an error;
	// net/http answers it.
	return h.hasHost || h.http10
}

// parseRequestLine reads "METHOD SP /target SP HTTP/1.x".
func parseRequestLine(line []byte, h *reqHead) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp < 1 || !allToken(line[:sp]) {
		return false
	}
	h.method, line = line[:sp], line[sp+1:]
	switch string(h.method) {
	case "CONNECT", "PRI":
		return false
	case "HEAD":
		h.head = true
		h.idempotent = true
	case "GET", "OPTIONS", "TRACE":
		h.idempotent = true
	}
	sp = bytes.IndexByte(line, ' ')
	if sp < 1 || !validTarget(line[:sp]) {
		return false
	}
	h.target = line[:sp]
	switch string(line[sp+1:]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		h.http10 = true
	default:
		return false
	}
	return true
}

// validTarget accepts an origin-form target (RFC 9112 section 3.2.1) of
// visible ASCII, without a fragment, whose percent-escapes are whole and
// whose query has no ';': net/http's url.ParseRequestURI refuses bad
// escapes in the path and httputil.ReverseProxy rewrites such queries.
func validTarget(t []byte) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	inQuery := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c <= ' ' || c >= 0x7f || c == '#':
			return false
		case c == '?':
			inQuery = true
		case c == ';' && inQuery:
			return false
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// splitField splits "name:value", the value without surrounding blanks.
func splitField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon < 1 || !allToken(line[:colon]) {
		return nil, nil, false // also a line starting with a blank: obs-fold
	}
	value = line[colon+1:]
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	for len(value) > 0 && (value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		value = value[:len(value)-1]
	}
	for _, c := range value {
		// RFC 9110 section 5.5: no control characters but HTAB.
		if (c < ' ' && c != '\t') || c == 0x7f {
			return nil, nil, false
		}
	}
	return line[:colon], value, true
}

// connectionOptions reads a Connection field: close and keep-alive only.
func connectionOptions(v []byte, h *reqHead) bool {
	for len(v) > 0 {
		var opt []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			opt, v = bytes.Trim(v[:i], " \t"), v[i+1:]
		} else {
			opt, v = bytes.Trim(v, " \t"), nil
		}
		switch {
		case len(opt) == 0:
		case is(opt, "close"):
			h.close = true
		case is(opt, "keep-alive"):
			h.keepAlive = true
		default:
			return false
		}
	}
	return true
}

// validHost accepts the common Host values (names, IPv4, bracketed IPv6,
// a port); anything else is left to net/http's ValidHostHeader.
func validHost(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// appendRequestHead appends the head sent to the real: the client's with
// Host first and X-Forwarded-For appended to (HAProxy's "option
// forwardfor", nginx's $proxy_add_x_forwarded_for), X-Forwarded-Host and
// -Proto set, as the slow path's rewrite does. real names the real when an
// HTTP/1.0 client sent no Host, as net/http's Transport would.
func appendRequestHead(b []byte, h *reqHead, client []byte, real netip.AddrPort) []byte {
	b = append(b, h.method...)
	b = append(b, ' ')
	b = append(b, h.target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	if h.hasHost {
		b = append(b, h.host...)
	} else {
		b = real.AppendTo(b)
	}
	b = append(b, "\r\n"...)
	for _, f := range h.fields {
		b = appendField(b, f.name, f.value)
	}
	b = append(b, "X-Forwarded-For: "...)
	for _, v := range h.xff {
		b = append(b, v...)
		b = append(b, ", "...)
	}
	b = append(b, client...)
	if h.hasHost {
		b = append(b, "\r\nX-Forwarded-Host: "...)
		b = append(b, h.host...)
	}
	return append(b, "\r\nX-Forwarded-Proto: http\r\n\r\n"...)
}

func appendField(b, name, value []byte) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// is reports whether b equals the ASCII string s, ignoring case.
func is(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// allToken reports whether b is non-empty and all tchar (RFC 9110
// section 5.6.2).
func allToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if int(c) >= len(tchar) || !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
