package l7

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

func start(t *testing.T, p upstream.Picker) (*Proxy, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := New(p, Config{Service: "web", ConnectTimeout: time.Second}, nil)
	px.SetActive(true)
	proxytest.Serve(t, func() error { return px.Serve(ln) }, func() { px.Close() })
	return px, "http://" + ln.Addr().String()
}

var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}

func get(t *testing.T, url string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestForwardedHeaders(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	_, url := start(t, upstreamtest.NewPicker(a.Addr))
	tests := []struct {
		name    string
		in      map[string]string
		wantXFF string
	}{
		{"fresh", nil, "127.0.0.1"},
		{"appends to chain", map[string]string{"X-Forwarded-For": "198.18.0.7"}, "198.18.0.7, 127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := get(t, url+"/x", tc.in)
			if code != 200 || body != "a" {
				t.Fatalf("GET = %d %q, want 200 %q", code, body, "a")
			}
			if got := a.LastHeader("X-Forwarded-For"); got != tc.wantXFF {
				t.Errorf("X-Forwarded-For = %q, want %q", got, tc.wantXFF)
			}
			if got := a.LastHeader("X-Forwarded-Proto"); got != "http" {
				t.Errorf("X-Forwarded-Proto = %q, want %q", got, "http")
			}
			if got, want := a.LastHeader("X-Forwarded-Host"), strings.TrimPrefix(url, "http://"); got != want {
				t.Errorf("X-Forwarded-Host = %q, want %q", got, want)
			}
		})
	}
}

func TestRetryOnDeadReal(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	p := upstreamtest.NewPicker(proxytest.ClosedPort(t), a.Addr)
	px, url := start(t, p)
	for i := range 6 {
		code, body, _ := get(t, url, nil)
		if code != 200 || body != "a" {
			t.Fatalf("request %d = %d %q, want 200 %q", i, code, body, "a")
		}
	}
	if st := px.Stats(); st.Retries != 6 || st.BadGateway != 0 {
		t.Errorf("Stats() = %+v, want 6 retries (the rr picker offers the dead real first each time), 0 bad gateway", st)
	}
	for _, r := range p.Reals {
		if n, _ := r.Counts(); n != 0 {
			t.Errorf("real %v active = %d after all requests, want 0", r.Addr(), n)
		}
	}
}

func TestRetryKeepsBody(t *testing.T) {
	var got atomic.Value
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		io.WriteString(w, "answer")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	px, url := start(t, upstreamtest.NewPicker(proxytest.ClosedPort(t), ln.Addr().(*net.TCPAddr).AddrPort()))
	resp, err := client.Post(url, "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || got.Load() != "payload" || string(answer) != "answer" {
		t.Errorf("POST after a dead real = %d %q, body seen %q; want 200 \"answer\", %q", resp.StatusCode, answer, got.Load(), "payload")
	}
	// The body is counted once, on the attempt that sent it.
	if st := px.Stats(); st.BytesIn != 7 || st.BytesOut != 6 {
		t.Errorf("Stats() bytes in %d, out %d; want 7 (the request body) and 6 (the response body)", st.BytesIn, st.BytesOut)
	}
}

func TestNoRealIs503(t *testing.T) {
	tests := []struct {
		name  string
		reals []netip.AddrPort
		body  string
	}{
		{"empty pool", nil, `hapair: service "web": no real server available`},
		{"all dead", []netip.AddrPort{proxytest.ClosedPort(t), proxytest.ClosedPort(t)}, `hapair: service "web": no real server available`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, url := start(t, upstreamtest.NewPicker(tc.reals...))
			code, body, _ := get(t, url, nil)
			if code != 503 || !strings.HasPrefix(body, tc.body) {
				t.Errorf("GET = %d %q, want 503 starting %q", code, body, tc.body)
			}
		})
	}
}

func TestInactiveRefuses(t *testing.T) {
	a := proxytest.HTTP(t, "a")
	px, url := start(t, upstreamtest.NewPicker(a.Addr))
	px.SetActive(false)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := c.Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("GET while inactive = %d, want a refused connection", resp.StatusCode)
	}
	if px.Stats().Refused == 0 || a.Served() != 0 {
		t.Errorf("Refused = %d, served %d; want >0, 0", px.Stats().Refused, a.Served())
	}
}
