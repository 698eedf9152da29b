package check

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// SIPChecker is a check that sends a SIP OPTIONS request over UDP (RFC 3261
// §11) and passes when the answer's status line is "SIP/2.0 200".
//
// It uses a connected UDP socket, so an ICMP port unreachable fails the check
// at once ("connection refused") instead of waiting for the timeout.
// Provisional responses (1xx) and answers for another Call-ID are skipped.
type SIPChecker struct {
	Timeout time.Duration

	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

func newSIPChecker(s Spec) *SIPChecker {
	rng := s.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(0x5195, 0x0b71)) // fixed: ids need only differ per probe
	}
	return &SIPChecker{Timeout: s.Timeout, rng: rng}
}

func (c *SIPChecker) ids() (branch, tag, callID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strconv.FormatUint(c.rng.Uint64(), 36), strconv.FormatUint(c.rng.Uint64(), 36),
		strconv.FormatUint(c.rng.Uint64(), 36) + strconv.FormatUint(c.rng.Uint64(), 36)
}

// sipHost formats an address for a SIP URI or Via (IPv6 in brackets).
func sipHost(a netip.AddrPort) string { return a.String() }

// Check sends OPTIONS to target and waits for a final response.
func (c *SIPChecker) Check(ctx context.Context, target netip.AddrPort) error {
	what := "sip " + target.String()
	deadline := time.Now().Add(c.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return reason(what, err, c.Timeout)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return reason(what, err, c.Timeout)
	}
	// After the deadline above: a cancel that came first runs this at
	// once, in its own goroutine, and must not be overwritten by it.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	branch, tag, callID := c.ids()
	req := "OPTIONS sip:" + sipHost(target) + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + sipHost(local) + ";branch=z9hG4bK" + branch + ";rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:hapair@" + sipHost(local) + ">;tag=" + tag + "\r\n" +
		"To: <sip:" + sipHost(target) + ">\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 OPTIONS\r\n" +
		"Contact: <sip:hapair@" + sipHost(local) + ">\r\n" +
		"Accept: application/sdp\r\n" +
		"User-Agent: hapair-check\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return c.fail(what, ctx, err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return c.fail(what, ctx, err)
		}
		code, status, ok := parseSIPStatus(buf[:n])
		if !ok {
			return fmt.Errorf("%s: malformed response %q", what, truncate(buf[:n], 32))
		}
		if id, ok := sipHeader(buf[:n], "Call-ID", "i"); ok && id != callID {
			continue // a late answer to an earlier probe
		}
		switch {
		case code >= 100 && code < 200:
			continue
		case code != 200:
			return fmt.Errorf("%s: status %s, want 200", what, status)
		}
		return nil
	}
}

func (c *SIPChecker) fail(what string, ctx context.Context, err error) error {
	if ctx.Err() == context.Canceled {
		return fmt.Errorf("%s: canceled", what)
	}
	return reason(what, err, c.Timeout)
}

// parseSIPStatus reads "SIP/2.0 486 Busy Here" from the first line of b.
func parseSIPStatus(b []byte) (code int, status string, ok bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	rest, found := bytes.CutPrefix(line, []byte("SIP/2.0 "))
	if !found || len(rest) < 3 {
		return 0, "", false
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 100 || code > 699 || (len(rest) > 3 && rest[3] != ' ') {
		return 0, "", false
	}
	return code, string(truncate(rest, 40)), true
}

// sipHeader returns the value of the first header called name or its
// compact form (RFC 3261 §7.3.3), case-insensitively.
func sipHeader(b []byte, name, compact string) (string, bool) {
	lines := bytes.Split(b, []byte("\n"))
	for _, l := range lines[1:] {
		l = bytes.TrimRight(l, "\r")
		if len(l) == 0 {
			break // end of headers
		}
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		k = bytes.TrimSpace(k)
		if bytes.EqualFold(k, []byte(name)) || bytes.EqualFold(k, []byte(compact)) {
			return string(bytes.TrimSpace(v)), true
		}
	}
	return "", false
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
