package l7

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// scriptReal is a real whose answer depends on the request path, for the
// fast path's framing cases. It records each request head it read and
// counts the connections it accepted.
type scriptReal struct {
	mu     sync.Mutex
	heads  []*http.Request
	bodies []string
	conns  atomic.Int64
}

func (s *scriptReal) last() (*http.Request, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heads) == 0 {
		return nil, ""
	}
	return s.heads[len(s.heads)-1], s.bodies[len(s.bodies)-1]
}

// answers maps a path to the real's raw answer; "close" in the name of
// the path makes the real close after it.
var answers = map[string]string{
	"/cl":      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Real: yes\r\n\r\nhello",
	"/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n",
	"/close":   "HTTP/1.1 200 OK\r\n\r\nuntil the end",
	"/204":     "HTTP/1.1 204 No Content\r\nX-Real: yes\r\n\r\n",
	"/304":     "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	"/103":     "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"/hop":     "HTTP/1.1 200 OK\r\nConnection: X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
	"/big":     "HTTP/1.1 200 OK\r\nSet-Cookie: " + strings.Repeat("c", 10000) + "\r\nContent-Length: 2\r\n\r\nok",
	"/fold":    "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
	"/echo":    "", // answers the request body
}

func newScriptReal(t *testing.T) (*scriptReal, func() *Proxy, string) {
	s := &scriptReal{}
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		s.conns.Add(1)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			s.mu.Lock()
			s.heads, s.bodies = append(s.heads, req), append(s.bodies, string(body))
			s.mu.Unlock()
			ans, ok := answers[req.URL.Path]
			switch {
			case req.URL.Path == "/echo":
				ans = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			case !ok:
				ans = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
			case req.Method == "HEAD":
				ans, _, _ = strings.Cut(ans, "\r\n\r\n")
				ans += "\r\n\r\n"
			}
			io.WriteString(c, ans)
			if req.URL.Path == "/close" {
				return
			}
		}
	})
	px, url := start(t, upstreamtest.NewPicker(addr))
	return s, func() *Proxy { return px }, strings.TrimPrefix(url, "http://")
}

// dialProxy opens a client connection with a 5s deadline.
func dialProxy(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

// ask writes raw and reads one response to method, body included.
func ask(t *testing.T, c net.Conn, br *bufio.Reader, raw, method string) (*http.Response, string) {
	t.Helper()
	if raw != "" {
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
	}
	var resp *http.Response
	lastInfo = 0
	for {
		var err error
		if resp, err = http.ReadResponse(br, &http.Request{Method: method}); err != nil {
			t.Fatalf("reading the answer to %q: %v", raw, err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			break
		}
		lastInfo = resp.StatusCode
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body of the answer to %q: %v", raw, err)
	}
	return resp, string(b)
}

// lastInfo is the last 1xx status ask saw.
var lastInfo int

// closedByProxy reports whether the proxy closed the connection (EOF
// with nothing more).
func closedByProxy(br *bufio.Reader) bool {
	_, err := br.ReadByte()
	return err == io.EOF
}

func TestFastPathFraming(t *testing.T) {
	tests := []struct {
		name, req, method string
		wantCode          int
		wantBody          string
		wantClose         bool // the proxy closes the client connection after
		check             func(*http.Response) error
	}{
		{"content-length", "GET /cl HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 200, "hello", false, header("X-Real", "yes")},
		{"chunked to HTTP/1.1, trailer kept", "GET /chunked HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 200, "abcde", false,
			func(r *http.Response) error {
				if len(r.TransferEncoding) != 1 || r.Trailer.Get("X-Sum") != "5" {
					return fmt.Errorf("transfer encoding %v, trailer %v; want chunked with X-Sum: 5", r.TransferEncoding, r.Trailer)
				}
				return nil
			}},
		{"chunked to HTTP/1.0, ended by close", "GET /chunked HTTP/1.0\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n", "GET", 200, "abcde", true, nil},
		{"until close, chunked to HTTP/1.1", "GET /close HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 200, "until the end", false, nil},
		{"HEAD keeps Content-Length, no body", "HEAD /cl HTTP/1.1\r\nHost: svc\r\n\r\n", "HEAD", 200, "", false,
			func(r *http.Response) error {
				if r.ContentLength != 5 {
					return fmt.Errorf("Content-Length %d, want 5", r.ContentLength)
				}
				return nil
			}},
		{"204", "GET /204 HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 204, "", false, header("X-Real", "yes")},
		{"304", "GET /304 HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 304, "", false, nil},
		{"103 then 200", "GET /103 HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 200, "ok", false,
			func(*http.Response) error {
				if lastInfo != 103 {
					return fmt.Errorf("1xx before the answer = %d, want 103", lastInfo)
				}
				return nil
			}},
		{"hop-by-hop dropped", "GET /hop HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 200, "ok", false,
			func(r *http.Response) error {
				if r.Header.Get("X-Private") != "" || r.Header.Get("Keep-Alive") != "" {
					return fmt.Errorf("header %v still has the real's hop-by-hop fields", r.Header)
				}
				return nil
			}},
		{"head larger than the real's buffer", "GET /big HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 200, "ok", false,
			func(r *http.Response) error {
				if len(r.Header.Get("Set-Cookie")) != 10000 {
					return fmt.Errorf("Set-Cookie of %d bytes, want 10000", len(r.Header.Get("Set-Cookie")))
				}
				return nil
			}},
		{"obs-fold from the real is 502", "GET /fold HTTP/1.1\r\nHost: svc\r\n\r\n", "GET", 502, "", false, nil},
		{"POST body", "POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 4\r\n\r\ndata", "POST", 200, "data", false, nil},
		{"Connection: close", "GET /cl HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", "GET", 200, "hello", true, nil},
		{"HTTP/1.0", "GET /cl HTTP/1.0\r\nHost: svc\r\n\r\n", "GET", 200, "hello", true, nil},
		{"HTTP/1.0 keep-alive", "GET /cl HTTP/1.0\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n", "GET", 200, "hello", false,
			header("Connection", "keep-alive")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, px, addr := newScriptReal(t)
			c, br := dialProxy(t, addr)
			resp, body := ask(t, c, br, tc.req, tc.method)
			if resp.StatusCode != tc.wantCode || (tc.wantCode != 502 && body != tc.wantBody) {
				t.Fatalf("answer = %d %q, want %d %q", resp.StatusCode, body, tc.wantCode, tc.wantBody)
			}
			if tc.check != nil {
				if err := tc.check(resp); err != nil {
					t.Error(err)
				}
			}
			if tc.wantClose {
				if !closedByProxy(br) {
					t.Error("the proxy kept the connection open, want it closed")
				}
			} else if resp2, body2 := ask(t, c, br, "GET /cl HTTP/1.1\r\nHost: svc\r\n\r\n", "GET"); resp2.StatusCode != 200 || body2 != "hello" {
				t.Errorf("next request on the connection = %d %q, want 200 %q", resp2.StatusCode, body2, "hello")
			}
			if n := px().handOffs.Load(); n != 0 {
				t.Errorf("%d connections handed to net/http, want 0 (the fast path serves this)", n)
			}
		})
	}
}

func header(k, v string) func(*http.Response) error {
	return func(r *http.Response) error {
		if got := r.Header.Get(k); got != v {
			return fmt.Errorf("%s = %q, want %q", k, got, v)
		}
		return nil
	}
}

// The fast path forwards what the real needs and nothing the client may
// not decide: X-Forwarded-* are the proxy's, hop-by-hop fields stop here.
func TestFastPathRequestHead(t *testing.T) {
	s, px, addr := newScriptReal(t)
	c, br := dialProxy(t, addr)
	resp, _ := ask(t, c, br, "GET /cl?a=1 HTTP/1.1\r\nHost: svc.example\r\nX-Forwarded-For: 198.18.0.9\r\n"+
		"X-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\nForwarded: for=1.2.3.4\r\nKeep-Alive: 300\r\n"+
		"Proxy-Authorization: Basic eA==\r\nConnection: keep-alive\r\nX-Custom: kept\r\n\r\n", "GET")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	req, _ := s.last()
	want := map[string]string{
		"X-Forwarded-For": "198.18.0.9, 127.0.0.1", "X-Forwarded-Host": "svc.example", "X-Forwarded-Proto": "http",
		"Forwarded": "", "Keep-Alive": "", "Proxy-Authorization": "", "Connection": "", "X-Custom": "kept",
	}
	for k, v := range want {
		if got := strings.Join(req.Header.Values(k), "|"); got != v {
			t.Errorf("real saw %s = %q, want %q", k, got, v)
		}
	}
	if req.Host != "svc.example" || req.RequestURI != "/cl?a=1" {
		t.Errorf("real saw Host %q, target %q; want svc.example, /cl?a=1", req.Host, req.RequestURI)
	}
	if px().handOffs.Load() != 0 {
		t.Error("handed to net/http, want the fast path")
	}
}

// An HTTP/1.0 request without Host names the real, as net/http's
// Transport does.
func TestFastPathHTTP10NoHost(t *testing.T) {
	s, _, addr := newScriptReal(t)
	c, br := dialProxy(t, addr)
	if resp, body := ask(t, c, br, "GET /cl HTTP/1.0\r\n\r\n", "GET"); resp.StatusCode != 200 || body != "hello" || resp.ProtoMinor != 0 {
		t.Fatalf("answer = HTTP/1.%d %d %q, want HTTP/1.0 200 hello", resp.ProtoMinor, resp.StatusCode, body)
	}
	req, _ := s.last()
	if !strings.HasPrefix(req.Host, "127.0.0.1:") {
		t.Errorf("real saw Host %q, want its own address", req.Host)
	}
}

// Pipelined requests are answered in order, and the real's connection is
// reused for all of them.
func TestFastPathPipelined(t *testing.T) {
	s, _, addr := newScriptReal(t)
	c, br := dialProxy(t, addr)
	io.WriteString(c, "GET /cl HTTP/1.1\r\nHost: svc\r\n\r\nPOST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\n\r\nxyzGET /204 HTTP/1.1\r\nHost: svc\r\n\r\n")
	for i, want := range []struct {
		code int
		body string
	}{{200, "hello"}, {200, "xyz"}, {204, ""}} {
		if resp, body := ask(t, c, br, "", "GET"); resp.StatusCode != want.code || body != want.body {
			t.Errorf("answer %d = %d %q, want %d %q", i, resp.StatusCode, body, want.code, want.body)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("real saw %d connections, want 1", n)
	}
}

// Requests the fast path leaves to net/http's server are served (or
// refused) by it exactly as before the fast path: the status codes here
// are net/http's.
func TestHandedOffRequests(t *testing.T) {
	tests := []struct {
		name, req string
		wantCode  int
		wantBody  string
	}{
		{"Expect: 100-continue", "POST /echo HTTP/1.1\r\nHost: svc\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", 200, "hi"},
		{"chunked request body", "POST /echo HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 200, "hi"},
		// net/http reads the body as chunked and drops Content-Length
		// (RFC 9112 section 6.3), as before the fast path.
		{"Content-Length and Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 200, "hi"},
		{"obs-fold", "GET /cl HTTP/1.1\r\nHost: svc\r\nX-A: b\r\n c\r\n\r\n", 200, "hello"},
		{"bare LF", "GET /cl HTTP/1.1\nHost: svc\n\n", 200, "hello"},
		{"head larger than the fast path's buffer", "GET /cl HTTP/1.1\r\nHost: svc\r\nX-A: " + strings.Repeat("b", 10000) + "\r\n\r\n", 200, "hello"},
		{"oversized head", "GET /cl HTTP/1.1\r\nHost: svc\r\nX-A: " + strings.Repeat("b", 1<<20+5000) + "\r\n\r\n", 431, ""},
		{"two Content-Length", "POST /echo HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, ""},
		{"no Host", "GET /cl HTTP/1.1\r\n\r\n", 400, ""},
		{"two Host", "GET /cl HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, ""},
		{"bad escape", "GET /%zz HTTP/1.1\r\nHost: svc\r\n\r\n", 400, ""},
		{"unknown transfer coding", "POST /echo HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: gzip\r\n\r\n", 501, ""},
		{"HTTP/2.0 request line", "GET /cl HTTP/2.0\r\nHost: svc\r\n\r\n", 505, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, px, addr := newScriptReal(t)
			c, br := dialProxy(t, addr)
			go io.WriteString(c, tc.req) // the oversized one is refused mid-write
			resp, body := ask(t, c, br, "", "GET")
			if resp.StatusCode != tc.wantCode || (tc.wantBody != "" && body != tc.wantBody) {
				t.Errorf("answer = %d %q, want %d %q", resp.StatusCode, body, tc.wantCode, tc.wantBody)
			}
			if n := px().handOffs.Load(); n != 1 {
				t.Errorf("%d connections handed to net/http, want 1", n)
			}
		})
	}
}

// An upgrade (WebSocket) is handed to net/http's path, whose tunnel
// TestUpgradeThroughProxy covers; here: it is handed off, and plain
// requests before it on the same connection took the fast path.
func TestUpgradeHandedOff(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Header.Get("Upgrade") == "" {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			}
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			io.Copy(c, br)
			return
		}
	})
	px, url := start(t, upstreamtest.NewPicker(addr))
	c, br := dialProxy(t, strings.TrimPrefix(url, "http://"))
	if resp, body := ask(t, c, br, "GET / HTTP/1.1\r\nHost: svc\r\n\r\n", "GET"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("plain request = %d %q, want 200 ok", resp.StatusCode, body)
	}
	if px.handOffs.Load() != 0 {
		t.Fatal("plain request handed off")
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade = %v, %v; want 101", resp, err)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo = %q, %v; want ping", buf, err)
	}
	if px.handOffs.Load() != 1 {
		t.Errorf("handOffs = %d, want 1", px.handOffs.Load())
	}
}

// A request that waits for its real longer than watchAfter gets its client
// connection watched; bytes of a next request that come meanwhile are kept
// for it, not taken for a close.
func TestWatchKeepsPipelinedBytes(t *testing.T) {
	release := make(chan struct{})
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for i := 0; ; i++ {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			if i == 0 {
				<-release
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", i)
		}
	})
	px, url := start(t, upstreamtest.NewPicker(addr))
	c, br := dialProxy(t, strings.TrimPrefix(url, "http://"))
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: svc\r\n\r\n")
	// The watch starts once the request has waited watchAfter; the next
	// request's bytes must then be there to be peeked.
	time.Sleep(2 * watchAfter) // the scenario's timing: the real is slow, the client pipelines
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: svc\r\n\r\n")
	time.Sleep(watchAfter) // let the watch see the bytes before the real answers
	close(release)
	for i, want := range []string{"0", "1"} {
		if resp, body := ask(t, c, br, "", "GET"); resp.StatusCode != 200 || body != want {
			t.Errorf("answer %d = %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
	if st := px.Stats(); st.BadGateway != 0 || st.InFlight != 0 {
		t.Errorf("Stats() = %+v, want no 502 and nothing in flight", st)
	}
}
