package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/proxytest"
)

// sipResponder answers each datagram on loopback with reply(request); an
// empty reply stays silent. It returns the address and a channel of requests.
func sipResponder(t *testing.T, reply func(req string) []string) (netip.AddrPort, <-chan string) {
	t.Helper()
	reqs := make(chan string, 16)
	b := proxytest.UDPFunc(t, "sip", func(req []byte) [][]byte {
		select {
		case reqs <- string(req):
		default:
		}
		var out [][]byte
		for _, r := range reply(string(req)) {
			out = append(out, []byte(r))
		}
		return out
	})
	return b.Addr, reqs
}

// header returns a header's value from a SIP message.
func header(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// answer builds a response to req with the given status line.
func answer(req, status string) string {
	return "SIP/2.0 " + status + "\r\n" +
		"Via: " + header(req, "Via") + "\r\n" +
		"From: " + header(req, "From") + "\r\n" +
		"To: " + header(req, "To") + ";tag=rs1\r\n" +
		"Call-ID: " + header(req, "Call-ID") + "\r\n" +
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
}

func TestSIP(t *testing.T) {
	ok, reqs := sipResponder(t, func(req string) []string { return []string{answer(req, "200 OK")} })
	trying, _ := sipResponder(t, func(req string) []string {
		return []string{answer(req, "100 Trying"), answer(req, "200 OK")}
	})
	busy, _ := sipResponder(t, func(req string) []string { return []string{answer(req, "486 Busy Here")} })
	silent, _ := sipResponder(t, func(string) []string { return nil })
	garbage, _ := sipResponder(t, func(string) []string { return []string{"HTTP/1.1 200 OK\r\n\r\n"} })
	truncated, _ := sipResponder(t, func(string) []string { return []string{"SIP/2.0 2"} })
	stale, _ := sipResponder(t, func(req string) []string {
		return []string{strings.Replace(answer(req, "200 OK"), header(req, "Call-ID"), "old-call", 1)}
	})
	compact, _ := sipResponder(t, func(req string) []string {
		return []string{"SIP/2.0 200 OK\r\ni: " + header(req, "Call-ID") + "\r\n\r\n"}
	})
	refused := testkit.ClosedPort(t, "udp")

	tests := []struct {
		name   string
		target netip.AddrPort
		want   string
	}{
		{"200", ok, ""},
		{"100 then 200", trying, ""},
		{"compact Call-ID", compact, ""},
		{"486", busy, fmt.Sprintf("sip %v: status 486 Busy Here, want 200", busy)},
		{"silent", silent, fmt.Sprintf("sip %v: timeout after 300ms", silent)},
		{"garbage", garbage, fmt.Sprintf(`sip %v: malformed response "HTTP/1.1 200 OK\r\n\r\n"`, garbage)},
		{"truncated", truncated, `malformed response "SIP/2.0 2"`},
		{"other Call-ID ignored", stale, "timeout after 300ms"},
		{"refused", refused, fmt.Sprintf("sip %v: connection refused", refused)},
	}
	c := mustNewChecker(t, Spec{Type: "sip", Timeout: 300 * time.Millisecond, Rand: rand.New(rand.NewPCG(1, 1))})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "Check("+tt.name+")", c.Check(context.Background(), tt.target), tt.want)
		})
	}

	// The first request (to ok) is a well-formed RFC 3261 OPTIONS.
	req := <-reqs
	line, _, _ := strings.Cut(req, "\r\n")
	if want := "OPTIONS sip:" + ok.String() + " SIP/2.0"; line != want {
		t.Errorf("request line = %q, want %q", line, want)
	}
	for _, h := range []struct{ name, prefix string }{
		{"Via", "SIP/2.0/UDP 127.0.0.1:"}, {"Max-Forwards", "70"}, {"From", "<sip:hapair@127.0.0.1:"},
		{"To", "<sip:" + ok.String() + ">"}, {"CSeq", "1 OPTIONS"}, {"Content-Length", "0"},
	} {
		if v := header(req, h.name); !strings.HasPrefix(v, h.prefix) {
			t.Errorf("header %s = %q, want prefix %q", h.name, v, h.prefix)
		}
	}
	if v := header(req, "Via"); !strings.Contains(v, ";branch=z9hG4bK") {
		t.Errorf("Via = %q, want an RFC 3261 branch (z9hG4bK...)", v)
	}
	if v := header(req, "From"); !strings.Contains(v, ";tag=") || header(req, "Call-ID") == "" {
		t.Errorf("From = %q, Call-ID = %q, want a tag and a Call-ID", v, header(req, "Call-ID"))
	}
	if !strings.HasSuffix(req, "\r\n\r\n") {
		t.Errorf("request does not end with an empty line: %q", req)
	}
}

func TestSIPIDsDiffer(t *testing.T) {
	c := newSIPChecker(Spec{Timeout: time.Second, Rand: rand.New(rand.NewPCG(7, 7))})
	b1, t1, c1 := c.ids()
	b2, t2, c2 := c.ids()
	if b1 == b2 || t1 == t2 || c1 == c2 {
		t.Errorf("two probes got ids (%s %s %s) and (%s %s %s), want all different", b1, t1, c1, b2, t2, c2)
	}
	d := newSIPChecker(Spec{Timeout: time.Second, Rand: rand.New(rand.NewPCG(7, 7))})
	if b, _, _ := d.ids(); b != b1 {
		t.Errorf("same seed gave branch %s, want %s (deterministic)", b, b1)
	}
}

func TestSIPCancel(t *testing.T) {
	silent, _ := sipResponder(t, func(string) []string { return nil })
	c := mustNewChecker(t, Spec{Type: "sip", Interval: time.Minute, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Check(ctx, silent) }()
	cancel()
	select {
	case err := <-errc:
		wantErr(t, "Check(cancelled)", err, "canceled")
	case <-time.After(10 * time.Second):
		t.Fatal("Check did not return after cancel")
	}
}
