package l7

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
)

// respHead is a real's response head, as the fast path reads it.
type respHead struct {
	code    int
	reason  []byte
	http10  bool
	length  int64 // Content-Length; -1 when absent or overridden by chunked
	chunked bool
	// close says the connection to the real cannot carry another request:
	// the real said so, spoke HTTP/1.0 (never reused, as before), or sent
	// both framings (RFC 9112 section 6.3: close after such a message).
	close   bool
	trailer []byte // the Trailer field, announced again when chunked reaches the client
	fields  []field
	opts    [][]byte // names the Connection field lists: hop-by-hop, dropped
}

// readResponseHead reads the next response head from bc, within bc.lr's
// budget. The head stays valid until bc.br is read again; inBuf says it is
// still in bc.br (the caller discards it).
func (bc *backendConn) readResponseHead() (head []byte, inBuf bool, err error) {
	head, err = peekHead(bc.br)
	if err != nil || head != nil {
		return head, true, err
	}
	// Larger than the buffer (big Set-Cookie fields): gather it, still
	// bounded by the budget.
	var s headScan
	buffered, _ := bc.br.Peek(bc.br.Buffered())
	buf := append([]byte(nil), buffered...)
	_, _ = bc.br.Discard(len(buffered))
	s.end(buf)
	for {
		line, err := bc.br.ReadSlice('\n')
		buf = append(buf, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if n := s.end(buf); n > 0 {
			return buf[:n], false, nil
		}
	}
}

// parseResponse fills h from a response head. Its errors name what is
// wrong; the request then gets 502, as net/http's ReadResponse errors did.
// A folded field (obs-fold) is refused: RFC 9112 section 5.2 lets a proxy
// answer 502 to it.
func parseResponse(head []byte, h *respHead) error {
	*h = respHead{fields: h.fields[:0], opts: h.opts[:0], length: -1}
	line, rest := nextLine(head)
	if err := parseStatusLine(line, h); err != nil {
		return err
	}
	var hadLength bool
	for {
		if line, rest = nextLine(rest); len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fmt.Errorf("obs-fold (a field continued on a new line) in response header")
		}
		name, value, ok := splitField(line)
		if !ok {
			return fmt.Errorf("malformed response header line %q", line)
		}
		switch {
		case is(name, "Content-Length"):
			if len(value) == 0 || len(value) > 18 || !allDigits(value) {
				return fmt.Errorf("bad Content-Length %q", value)
			}
			n, _ := strconv.ParseInt(string(value), 10, 64)
			if hadLength && n != h.length {
				return fmt.Errorf("conflicting Content-Length %d and %d", h.length, n)
			}
			hadLength, h.length = true, n
			continue
		case is(name, "Transfer-Encoding"):
			if h.chunked || !is(value, "chunked") {
				return fmt.Errorf("unsupported transfer encoding %q", value)
			}
			h.chunked = true
			continue
		case is(name, "Connection"):
			// Cut, not bytes.Split: no slice allocated per response (every
			// answer of nginx says "Connection: keep-alive").
			for rest, more := value, true; more; {
				var opt []byte
				opt, rest, more = bytes.Cut(rest, []byte(","))
				switch opt = bytes.Trim(opt, " \t"); {
				case is(opt, "close"):
					h.close = true
				case len(opt) > 0 && !is(opt, "keep-alive"):
					h.opts = append(h.opts, opt)
				}
			}
			continue
		case is(name, "Trailer"):
			h.trailer = value
			continue
		case is(name, "Keep-Alive"), is(name, "Proxy-Connection"), is(name, "Proxy-Authenticate"),
			is(name, "Proxy-Authorization"), is(name, "Te"), is(name, "Upgrade"):
			continue // hop-by-hop (RFC 9110 section 7.6.1), as httputil.ReverseProxy drops them
		}
		h.fields = append(h.fields, field{name, value})
	}
	if len(h.opts) > 0 {
		kept := h.fields[:0]
		for _, f := range h.fields {
			if !listed(f.name, h.opts) {
				kept = append(kept, f)
			}
		}
		h.fields = kept
	}
	if h.chunked {
		h.close = h.close || hadLength
		h.length = -1
	}
	h.close = h.close || h.http10
	return nil
}

// parseStatusLine reads "HTTP/1.x SSS reason" (the reason may be absent).
func parseStatusLine(line []byte, h *respHead) error {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
		!allDigits(line[9:12]) || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("malformed HTTP status line %q", line)
	}
	h.http10 = line[7] == '0'
	h.code = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if len(line) > 13 {
		h.reason = line[13:]
	}
	if h.code < 100 {
		// RFC 9110 section 15: a status code is 100 to 599.
		return fmt.Errorf("status %03d is not an HTTP status code", h.code)
	}
	return nil
}

// nextLine splits off a line ended by CRLF or LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

func listed(name []byte, opts [][]byte) bool {
	for _, o := range opts {
		if len(o) == len(name) && is(name, string(o)) {
			return true
		}
	}
	return false
}

// appendStatusLine appends the status line the client gets: its own HTTP
// version, as net/http's server answers.
func appendStatusLine(b []byte, http10 bool, code int, reason []byte) []byte {
	if http10 {
		b = append(b, "HTTP/1.0 "...)
	} else {
		b = append(b, "HTTP/1.1 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	return append(b, "\r\n"...)
}
