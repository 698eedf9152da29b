package l7

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// countingServer is an httptest server on 127.0.0.1 that counts the
// connections it accepted.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
	addr  netip.AddrPort
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	cs := &countingServer{Server: httptest.NewUnstartedServer(h)}
	cs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			cs.conns.Add(1)
		}
	}
	cs.Start()
	t.Cleanup(cs.Close)
	cs.addr = cs.Listener.Addr().(*net.TCPAddr).AddrPort()
	return cs
}

// rawServer answers each connection with fn, which reads requests itself:
// for real servers that misbehave on purpose.
func rawServer(t *testing.T, fn func(c net.Conn, br *bufio.Reader, connIndex int)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testkit.ServeConns(t, ln, func(c net.Conn, i int) { fn(c, bufio.NewReader(c), i) })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// cannedServer answers every request on a connection with resp, written
// as is, until the proxy closes the connection.
func cannedServer(t *testing.T, resp string) netip.AddrPort {
	return rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, resp)
		}
	})
}

// waitIdleDead waits until px's idle connection to addr, if it has one,
// looks dead (alive false) once what has reached it.
func waitIdleDead(t *testing.T, px *Proxy, addr netip.AddrPort, what string) {
	t.Helper()
	testkit.WaitFor(t, what+" to reach the idle connection", func() bool {
		bc, _ := px.pool.Load().get(addr)
		if bc == nil {
			return true
		}
		alive := bc.alive()
		px.pool.Load().put(bc)
		return !alive
	})
}

// wantIdle fails t unless px's pool holds want idle connections; after
// says when, for the message.
func wantIdle(t *testing.T, px *Proxy, want int, after string) {
	t.Helper()
	if n := px.pool.Load().idleCount(); n != want {
		t.Errorf("idleCount() = %d%s, want %d", n, after, want)
	}
}

func newTestProxy(t *testing.T, cfg Config, addrs ...netip.AddrPort) *Proxy {
	t.Helper()
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = time.Second
	}
	px := New(upstreamtest.NewPicker(addrs...), cfg, nil)
	t.Cleanup(px.Close)
	return px
}

// roundTrip sends one request through the proxy's transport side, as
// ReverseProxy would, and returns the status and the body read to the end.
func roundTrip(t *testing.T, px *Proxy, method, body string) (int, string, error) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://svc.example/p", rb)
	req.RequestURI = ""
	req.RemoteAddr = "127.0.0.1:40000"
	resp, err := roundTripper{px}.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// getOK sends n GETs through px and fails t unless each answers 200 "ok".
func getOK(t *testing.T, px *Proxy, n int, why string) {
	t.Helper()
	for i := range n {
		if code, body, err := roundTrip(t, px, "GET", ""); err != nil || code != 200 || body != "ok" {
			t.Fatalf("GET %d = %d %q, %v; want 200 %q%s", i, code, body, err, "ok", why)
		}
	}
}

func TestPoolReusesConnections(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		method    string
		wantBody  string
		wantConns int64
		wantIdle  int
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }, "GET", "hi", 1, 1},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		}, "GET", "ab", 1, 1},
		{"HEAD", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
		}, "HEAD", "", 1, 1},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, "GET", "", 1, 1},
		{"304", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(304) }, "GET", "", 1, 1},
		{"POST", func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) }, "POST", "data", 1, 1},
		{"Connection: close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}, "GET", "bye", 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCountingServer(t, tc.handler)
			px := newTestProxy(t, Config{}, srv.addr)
			body := ""
			if tc.method == "POST" {
				body = tc.wantBody
			}
			for i := range 5 {
				code, got, err := roundTrip(t, px, tc.method, body)
				if err != nil || got != tc.wantBody {
					t.Fatalf("request %d = %d %q, %v; want %q, nil", i, code, got, err, tc.wantBody)
				}
			}
			if n := srv.conns.Load(); n != tc.wantConns {
				t.Errorf("real saw %d connections for 5 requests, want %d", n, tc.wantConns)
			}
			wantIdle(t, px, tc.wantIdle, "")
		})
	}
}

func TestPoolHTTP10RealNotReused(t *testing.T) {
	// The real keeps the connection open: closing it is the proxy's part.
	px := newTestProxy(t, Config{}, cannedServer(t, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	getOK(t, px, 3, "")
	wantIdle(t, px, 0, " after HTTP/1.0 responses")
}

func TestPoolDropsUnreadBody(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	px := newTestProxy(t, Config{}, srv.addr)
	req := httptest.NewRequest("GET", "http://svc.example/", nil)
	req.RequestURI, req.RemoteAddr = "", "127.0.0.1:40000"
	resp, err := roundTripper{px}.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(resp.Body, buf)
	done := make(chan struct{})
	go func() { resp.Body.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Body.Close() did not return within 5s: it drains instead of closing")
	}
	wantIdle(t, px, 0, " after closing a half-read body")
	if code, body, err := roundTrip(t, px, "GET", ""); err != nil || code != 200 || len(body) != len(big) {
		t.Fatalf("next request = %d, %d bytes, %v; want 200, %d bytes", code, len(body), err, len(big))
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("real saw %d connections, want 2 (the half-read one must not be reused)", n)
	}
}

// staleServer answers the first request on each connection and then
// reads the next request and closes without answering: a real that closed
// a kept-alive connection just as the proxy reused it.
func staleServer(t *testing.T) netip.AddrPort {
	return rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		resp := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"
		if req.Method == "HEAD" {
			resp = strings.TrimSuffix(resp, "fresh")
		}
		io.WriteString(c, resp)
		if req, err = http.ReadRequest(br); err == nil {
			io.Copy(io.Discard, req.Body)
		}
	})
}

func TestPoolStaleConnection(t *testing.T) {
	tests := []struct {
		method    string
		body      string
		wantErr   string // "" = the second request succeeds
		wantStale uint64
	}{
		{"GET", "", "", 1},
		{"HEAD", "", "", 1},
		{"POST", "data", "reading response from real", 0},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			px := newTestProxy(t, Config{}, staleServer(t))
			if code, _, err := roundTrip(t, px, tc.method, tc.body); err != nil || code != 200 {
				t.Fatalf("first %s = %d, %v; want 200", tc.method, code, err)
			}
			code, _, err := roundTrip(t, px, tc.method, tc.body)
			if tc.wantErr == "" && (err != nil || code != 200) {
				t.Errorf("second %s = %d, %v; want 200 on a fresh connection", tc.method, code, err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("second %s error = %v, want one containing %q (a POST is never sent twice)", tc.method, err, tc.wantErr)
			}
			if got := px.Stats().StaleRetries; got != tc.wantStale {
				t.Errorf("StaleRetries = %d, want %d", got, tc.wantStale)
			}
		})
	}
}

func TestPoolSkipsConnectionClosedWhileIdle(t *testing.T) {
	// The real closes right after each response; a POST must notice before
	// writing and use a fresh connection rather than fail.
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	px := newTestProxy(t, Config{}, addr)
	for i := range 3 {
		if i > 0 {
			waitIdleDead(t, px, addr, "the real's FIN")
		}
		if code, body, err := roundTrip(t, px, "POST", "data"); err != nil || code != 200 || body != "ok" {
			t.Fatalf("POST %d = %d %q, %v; want 200 %q", i, code, body, err, "ok")
		}
	}
	if got := px.Stats().StaleRetries; got != 0 {
		t.Errorf("StaleRetries = %d, want 0 (the closed connection is seen before writing)", got)
	}
}

func TestPoolInformationalResponses(t *testing.T) {
	addr := cannedServer(t, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	px := newTestProxy(t, Config{}, addr)
	getOK(t, px, 2, " after a 103")
	wantIdle(t, px, 1, " after two answers with a 103")

	// Through ReverseProxy the 103 reaches the client.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px.SetActive(true)
	go px.Serve(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "HTTP/1.1 103 Early Hints\r\n" {
		t.Errorf("client's first line = %q, %v; want the 103", line, err)
	}
}

func TestPoolTooManyInformational(t *testing.T) {
	addr := cannedServer(t, strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 10)+"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	px := newTestProxy(t, Config{}, addr)
	_, _, err := roundTrip(t, px, "GET", "")
	if err == nil || !strings.Contains(err.Error(), "more than 5 1xx responses") {
		t.Errorf("RoundTrip error = %v, want one about more than 5 1xx responses", err)
	}
}

func TestPoolHeaderLimit(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Big: " + strings.Repeat("y", 1000) + "\r\n"
		for range maxResponseHeaderBytes/len(line) + 2 {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	})
	px := newTestProxy(t, Config{}, addr)
	_, _, err := roundTrip(t, px, "GET", "")
	if err == nil || !strings.Contains(err.Error(), "response header larger than") {
		t.Errorf("RoundTrip error = %v, want one about the response header size", err)
	}
}

func TestPoolIdleExpiry(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	clk := clocktest.New(time.Time{})
	px := newTestProxy(t, Config{IdleTimeout: 30 * time.Millisecond, Clock: clk}, srv.addr)
	if _, _, err := roundTrip(t, px, "GET", ""); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the connection back in the pool", func() bool { return px.pool.Load().idleCount() == 1 })
	clk.Advance(29 * time.Millisecond)
	if n := px.pool.Load().idleCount(); n != 1 {
		t.Fatalf("idleCount() = %d after 29ms idle, want 1 (timeout 30ms)", n)
	}
	clk.Advance(time.Millisecond) // the sweep runs in Advance
	if n := px.pool.Load().idleCount(); n != 0 {
		t.Fatalf("idleCount() = %d after 30ms idle, want 0", n)
	}
	if _, _, err := roundTrip(t, px, "GET", ""); err != nil {
		t.Fatal(err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("real saw %d connections, want 2 (the first expired)", n)
	}
}

func TestPoolIdleBound(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		started.Done()
		<-release
		io.WriteString(w, "hi")
	})
	px := newTestProxy(t, Config{MaxIdleConnsPerHost: 2}, srv.addr)
	const n = 5
	started.Add(n)
	errs := make(chan error, n)
	for range n {
		go func() { _, _, err := roundTrip(t, px, "GET", ""); errs <- err }()
	}
	started.Wait() // five requests on five connections at once
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wantIdle(t, px, 2, fmt.Sprintf(" after %d parallel requests (the bound)", n))
}

func TestPoolClientCancel(t *testing.T) {
	hung := make(chan struct{})
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	})
	defer close(hung)
	px := newTestProxy(t, Config{}, srv.addr)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "http://svc.example/", nil).WithContext(ctx)
	req.RequestURI, req.RemoteAddr = "", "127.0.0.1:40000"
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := roundTripper{px}.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("RoundTrip error = %v, want one containing %q", err, "context canceled")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("RoundTrip returned after %v, want promptly after the cancel", d)
	}
	wantIdle(t, px, 0, " after a cancelled request")
}

func TestPoolConcurrent(t *testing.T) {
	a := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "a%s", r.URL.Query().Get("i")) })
	b := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "b%s", r.URL.Query().Get("i")) })
	_, url := start(t, upstreamtest.NewPicker(a.addr, b.addr))
	var wg sync.WaitGroup
	errs := make(chan error, 20*25)
	for g := range 20 {
		wg.Go(func() {
			for i := range 25 {
				id := fmt.Sprint(g*100 + i)
				resp, err := client.Get(url + "/?i=" + id)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if s := string(body); resp.StatusCode != 200 || (s != "a"+id && s != "b"+id) {
					errs <- fmt.Errorf("GET ?i=%s = %d %q, want 200 a%s or b%s", id, resp.StatusCode, s, id, id)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := a.conns.Load() + b.conns.Load(); n > 40 {
		t.Errorf("reals saw %d connections for 500 requests from 20 clients, want at most 40 (keep-alive)", n)
	}
}

func TestUpgradeThroughProxy(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "echo" {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		io.Copy(c, br)
	})
	_, url := start(t, upstreamtest.NewPicker(addr))
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade response = %v, %v; want 101", resp, err)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("echo over the upgraded connection = %q, %v; want %q", buf, err, "ping")
	}
}

func TestPoolDropsConnectionWithUnsolicitedBytes(t *testing.T) {
	// The real answers each request twice, the second time after a pause:
	// the stray response arrives while the connection is idle and must
	// not be read as the answer to the next request.
	var n atomic.Int64
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			body := fmt.Sprint(n.Add(1))
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			time.Sleep(20 * time.Millisecond) // stands in for a broken real's delay, not for a wait on a condition
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray")
		}
	})
	px := newTestProxy(t, Config{}, addr)
	for i := range 3 {
		_, body, err := roundTrip(t, px, "GET", "")
		if err != nil || body == "stray" {
			t.Fatalf("GET %d = %q, %v; want a fresh answer, never the stray response", i, body, err)
		}
		waitIdleDead(t, px, addr, "the stray response")
	}
}

func TestSetConfigRetiresOldPool(t *testing.T) {
	release := make(chan struct{})
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			<-release
		}
		io.WriteString(w, "hi")
	})
	px := newTestProxy(t, Config{}, srv.addr)
	if _, _, err := roundTrip(t, px, "GET", ""); err != nil {
		t.Fatal(err)
	}
	old := px.pool.Load()
	req := httptest.NewRequest("GET", "http://svc.example/?slow=1", nil)
	req.RequestURI, req.RemoteAddr = "", "127.0.0.1:40000"
	done := make(chan error, 1)
	go func() {
		resp, err := roundTripper{px}.RoundTrip(req) // takes the idle connection
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	testkit.WaitFor(t, "the slow request to take the idle connection", func() bool { return old.idleCount() == 0 })
	px.SetConfig(Config{MaxIdleConnsPerHost: 4})
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("request in flight across SetConfig: %v", err)
	}
	if n := old.idleCount(); n != 0 {
		t.Errorf("old pool idleCount() = %d after its request finished, want 0 (retired pools keep nothing)", n)
	}
	if _, _, err := roundTrip(t, px, "GET", ""); err != nil {
		t.Fatal(err)
	}
	wantIdle(t, px, 1, " in the new pool")
}
