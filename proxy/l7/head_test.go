package l7

import (
	"bufio"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// parseRequest takes the common heads and leaves every other one to
// net/http (false): it never refuses a request itself.
func TestParseRequestSubset(t *testing.T) {
	tests := []struct {
		head string
		fast bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET /p?q=%41&r=1 HTTP/1.1\r\nHost: a.example:8080\r\nUser-Agent: x\r\n\r\n", true},
		{"GET / HTTP/1.0\r\n\r\n", true},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", true},
		{"GET / HTTP/1.1\r\n\r\n", false},                          // no Host
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", false},    // two
		{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", false},             // odd Host
		{"GET / HTTP/1.1\nHost: a\n\n", false},                     // bare LF
		{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", false}, // obs-fold
		{"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n", false},      // space before colon
		{"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", false},  // control character
		{"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n", false},
		{"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", false}, // absolute form
		{"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET /?a;b HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET /#f HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET / HTTP/1.2\r\nHost: a\r\n\r\n", false},
		{"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"G\x7fT / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
	}
	for _, tc := range tests {
		var h reqHead
		if got := parseRequest([]byte(tc.head), &h); got != tc.fast {
			t.Errorf("parseRequest(%q) = %v, want %v", tc.head, got, tc.fast)
		}
	}
}

func TestAppendRequestHead(t *testing.T) {
	var h reqHead
	head := "POST /x HTTP/1.0\r\nX-Forwarded-For: 198.18.0.1\r\nContent-Length: 2\r\nX-Forwarded-For: 198.18.0.2\r\nConnection: keep-alive\r\n\r\n"
	if !parseRequest([]byte(head), &h) {
		t.Fatal("parseRequest refused a plain HTTP/1.0 head")
	}
	got := string(appendRequestHead(nil, &h, []byte("127.0.0.1"), netip.MustParseAddrPort("198.18.1.1:80")))
	want := "POST /x HTTP/1.1\r\nHost: 198.18.1.1:80\r\nContent-Length: 2\r\n" +
		"X-Forwarded-For: 198.18.0.1, 198.18.0.2, 127.0.0.1\r\nX-Forwarded-Proto: http\r\n\r\n"
	if got != want {
		t.Errorf("appendRequestHead = %q, want %q", got, want)
	}
	if h.keepOpen() != true || h.replayable() {
		t.Errorf("keepOpen %v, replayable %v; want true (HTTP/1.0 keep-alive), false (a body)", h.keepOpen(), h.replayable())
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		head    string
		wantErr string
		check   func(*respHead) bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "", func(h *respHead) bool { return h.length == 5 && !h.close }},
		{"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\n", "", func(h *respHead) bool { return h.code == 200 && len(h.reason) == 0 }},
		{"HTTP/1.1 200 OK\nContent-Length: 5\n\n", "", func(h *respHead) bool { return h.length == 5 }}, // bare LF
		{"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "", func(h *respHead) bool { return h.close }},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "", func(h *respHead) bool { return h.length == 5 }},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "",
			func(h *respHead) bool { return h.chunked && h.length == -1 && h.close }},
		{"HTTP/1.1 200 OK\r\nConnection: close, X-A\r\nX-A: 1\r\nX-B: 2\r\n\r\n", "",
			func(h *respHead) bool { return h.close && len(h.fields) == 1 && string(h.fields[0].name) == "X-B" }},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting Content-Length", nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length", nil},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer encoding", nil},
		{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold", nil},
		{"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed response header line", nil},
		{"HTTP/1.1 099 Odd\r\n\r\n", "not an HTTP status code", nil},
		{"HTTP/2 200 OK\r\n\r\n", "malformed HTTP status line", nil},
		{"HTTP/1.1 20 OK\r\n\r\n", "malformed HTTP status line", nil},
	}
	for _, tc := range tests {
		var h respHead
		err := parseResponse([]byte(tc.head), &h)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("parseResponse(%q) = %v, want nil", tc.head, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("parseResponse(%q) = %v, want an error containing %q", tc.head, err, tc.wantErr)
		case tc.check != nil && !tc.check(&h):
			t.Errorf("parseResponse(%q) = %+v, not what the case wants", tc.head, h)
		}
	}
}

// A real's usual head, "Connection: keep-alive" included, is parsed with
// no allocation (a slice per response made a GC cycle every few seconds
// in the bench), and a listed option still drops its field.
func TestParseResponseNoAlloc(t *testing.T) {
	head := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 14\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n")
	h := respHead{fields: make([]field, 0, 8), opts: make([][]byte, 0, 4)}
	allocs := testing.AllocsPerRun(100, func() {
		if err := parseResponse(head, &h); err != nil {
			t.Fatalf("parseResponse(%q) = %v", head, err)
		}
	})
	if allocs != 0 {
		t.Errorf("parseResponse allocates %v times per head, want 0", allocs)
	}
	if h.close || h.length != 14 || len(h.fields) != 1 || string(h.fields[0].name) != "Server" {
		t.Errorf("parseResponse(%q) = close %v, length %d, fields %q; want false, 14, [Server]", head, h.close, h.length, h.fields)
	}
}

// peekHead finds a head however its bytes arrive, and says when it cannot
// fit.
func TestPeekHead(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	br := bufio.NewReaderSize(&oneByte{s: head + "next"}, 16)
	got, err := peekHead(br)
	if err != nil || got != nil {
		t.Errorf("peekHead over a 16-byte buffer = %q, %v; want nil, nil (does not fit)", got, err)
	}
	br = bufio.NewReaderSize(&oneByte{s: head + "next"}, 64)
	got, err = peekHead(br)
	if err != nil || string(got) != head {
		t.Errorf("peekHead one byte at a time = %q, %v; want %q", got, err, head)
	}
}

// oneByte reads one byte at a time.
type oneByte struct{ s string }

func (r *oneByte) Read(p []byte) (int, error) {
	if len(r.s) == 0 {
		return 0, io.EOF
	}
	p[0], r.s = r.s[0], r.s[1:]
	return 1, nil
}
