package check

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

func addrOf(t testing.TB, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("ParseAddrPort(%v): %v", a, err)
	}
	return ap
}

// closedPort returns a loopback TCP address nobody listens on.
func closedPort(t *testing.T) netip.AddrPort { return testkit.ClosedPort(t, "tcp") }

// rawServer accepts on loopback and runs handle for each connection.
func rawServer(t *testing.T, handle func(net.Conn)) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Accept(t, l, func(c net.Conn) { go func() { defer c.Close(); handle(c) }() })
	return addrOf(t, l.Addr())
}

func mustNewChecker(t *testing.T, s Spec) Checker {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatalf("New(%+v) error: %v", s, err)
	}
	return c
}

// wantErr checks err against want: "" means nil, else a substring.
func wantErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	testkit.WantError(t, what, err, want)
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"connect", Spec{Type: "connect"}, ""},
		{"N", Spec{Type: "3", Receive: regexp.MustCompile("ok")}, ""},
		{"zero N", Spec{Type: "0"}, `type: "0": N must be a positive integer`},
		{"unknown", Spec{Type: "ping"}, `check: type: "ping" is not one of connect, negotiate, http, sip, external, N (N a positive integer), or off`},
		{"http receive", Spec{Type: "http", Receive: regexp.MustCompile("ok")}, `receive: key "receive" is not used by check type "http" (only by negotiate, a number N)`},
		{"external no program", Spec{Type: "external"}, `program: required for check type "external"`},
		{"bad status", Spec{Type: "http", Status: 1000}, "status: 1000 is not an HTTP status"},
		{"bad path", Spec{Type: "http", Request: "http://x/status"}, `request: "http://x/status": want an HTTP path starting with /`},
		{"path with space and CRLF", Spec{Type: "negotiate", Request: "/st atus\r\nX: y"}, `request: "/st atus\r\nX: y": an HTTP path holds no spaces or control characters (percent-encode them, e.g. %20)`},
		{"negative rise", Spec{Type: "connect", Rise: -1}, "rise: -1 is out of range 1..100"},
		{"connect request", Spec{Type: "connect", Request: "/x", Status: 200}, `request: key "request" is not used by check type "connect" (only by negotiate, http, a number N)`},
		{"relative program", Spec{Type: "external", Program: "check.sh"}, `program: "check.sh": want an absolute path`},
		{"timeout over interval", Spec{Type: "connect", Interval: time.Second, Timeout: 2 * time.Second}, "timeout: 2s is longer than interval 1s: a hung real would be probed once per timeout, so fall × interval would not bound detection"},
		{"negative timeout", Spec{Type: "connect", Timeout: -time.Second}, "timeout: -1s: want a positive duration"},
		{"port out of range", Spec{Type: "connect", Port: 70000}, "check: port: 70000 is out of range 1..65535"},
		{"external port", Spec{Type: "external", Program: "/bin/true", Port: 8080}, `check: port: key "port" is not used by check type "external" (only by connect, negotiate, http, sip, a number N)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.spec)
			wantErr(t, fmt.Sprintf("New(%+v)", tt.spec), err, tt.want)
		})
	}
	d := Spec{Type: "http"}.WithDefaults()
	if d.Interval != 2*time.Second || d.Timeout != time.Second || d.Rise != 2 || d.Fall != 3 || d.Status != 200 || d.Request != "/" {
		t.Errorf("Spec{}.WithDefaults() = %+v, want interval 2s timeout 1s rise 2 fall 3 status 200 request /", d)
	}
}

func TestConnect(t *testing.T) {
	up := rawServer(t, func(net.Conn) {})
	down := closedPort(t)
	c := mustNewChecker(t, Spec{Type: "connect", Timeout: time.Second})
	wantErr(t, "Check(up)", c.Check(context.Background(), up), "")
	wantErr(t, "Check(down)", c.Check(context.Background(), down), fmt.Sprintf("connect %v: connection refused", down))
	// New refuses a timeout under probe.MinTimeout; the checker's own
	// timeout path is built around it to see a run time out.
	connect, _ := Lookup("connect")
	short := connect.build(Spec{Type: "connect", Timeout: time.Nanosecond}.WithDefaults())
	wantErr(t, "Check(1ns timeout)", short.Check(context.Background(), up), fmt.Sprintf("connect %v: timeout after 1ns", up))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantErr(t, "Check(cancelled)", c.Check(ctx, up), fmt.Sprintf("connect %v: canceled", up))
}

// TestConnectMany: 2,000 connect checks, 64 at a time, against a
// listener in another process all pass. A connect issued before the
// poller's readiness reset (os.File's Write resets it) lost the wake-up
// of a connect that completed in between: 2 of 1,000 checks then timed
// out in BenchmarkProber1000Connect.
func TestConnectMany(t *testing.T) {
	target := startListenerProcess(t)
	c := &ConnectChecker{Timeout: 2 * time.Second} // over one SYN retransmit (1 s), if the backlog overflows
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	work := make(chan struct{})
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if err := c.Check(context.Background(), target); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for range 2000 {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of 2000 checks failed, first: %v", len(errs), errs[0])
	}
}

// TestCheckPort: with Spec.Port the check connects to the real's address
// at that port, whatever the target's own port; an HTTP check's Host
// header names that port.
func TestCheckPort(t *testing.T) {
	up := rawServer(t, func(net.Conn) {})
	down := closedPort(t)
	target := netip.AddrPortFrom(up.Addr(), down.Port()) // the real's own port refuses
	c := mustNewChecker(t, Spec{Type: "connect", Port: int(up.Port())})
	wantErr(t, "Check(real's port down, check port up)", c.Check(context.Background(), target), "")
	c = mustNewChecker(t, Spec{Type: "connect", Port: int(down.Port())})
	wantErr(t, "Check(check port down)", c.Check(context.Background(), up), fmt.Sprintf("connect %v: connection refused", down))

	var gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		io.WriteString(w, "up")
	}))
	t.Cleanup(srv.Close)
	web := addrOf(t, srv.Listener.Addr())
	h := mustNewChecker(t, Spec{Type: "negotiate", Request: "/health", Receive: regexp.MustCompile("up"), Port: int(web.Port())})
	wantErr(t, "negotiate at the check port", h.Check(context.Background(), netip.AddrPortFrom(web.Addr(), 80)), "")
	if gotHost != web.String() {
		t.Errorf("Host header %q, want %q (the address probed)", gotHost, web)
	}
}

func TestHTTP(t *testing.T) {
	var gotHost, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost, gotPath = r.Host, r.URL.RequestURI()
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "all ok here")
		case "/bad":
			io.WriteString(w, "degraded")
		case "/503":
			w.WriteHeader(503)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		}
	}))
	t.Cleanup(srv.Close)
	good := addrOf(t, srv.Listener.Addr())
	garbage := rawServer(t, func(c net.Conn) {
		c.Read(make([]byte, 512))
		c.Write([]byte("\x00\x01 not http at all\r\n\r\n"))
	})
	eager := rawServer(t, func(c net.Conn) { // speaks first, then drains so close sends no RST
		c.Write([]byte("\x00\x01 not http at all\r\n\r\n"))
		io.Copy(io.Discard, c)
	})
	silent := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	hangup := rawServer(t, func(c net.Conn) { c.Read(make([]byte, 512)) })
	truncated := rawServer(t, func(c net.Conn) {
		c.Read(make([]byte, 512))
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nall o"))
	})
	down := closedPort(t)
	ok := regexp.MustCompile("ok")
	tests := []struct {
		name   string
		spec   Spec
		target netip.AddrPort
		want   string
	}{
		{"negotiate ok", Spec{Type: "negotiate", Request: "/ok", Receive: ok}, good, ""},
		{"negotiate no match", Spec{Type: "negotiate", Request: "/bad", Receive: ok}, good, `negotiate: body does not match "ok"`},
		{"negotiate status", Spec{Type: "negotiate", Request: "/503", Receive: ok}, good, "negotiate: status 503, want 200"},
		{"http status only", Spec{Type: "http", Request: "/bad"}, good, ""},
		{"http wanted 503", Spec{Type: "http", Request: "/503", Status: 503}, good, ""},
		{"redirect not followed", Spec{Type: "http", Request: "/moved"}, good, "http: status 301, want 200"},
		{"refused", Spec{Type: "negotiate", Receive: ok}, down, fmt.Sprintf("negotiate: connect %v: connection refused", down)},
		{"garbage", Spec{Type: "negotiate", Receive: ok}, garbage, "negotiate: malformed HTTP response"},
		{"garbage before request", Spec{Type: "negotiate", Receive: ok}, eager, "negotiate: malformed HTTP response"},
		{"silent", Spec{Type: "negotiate", Receive: ok, Timeout: 200 * time.Millisecond}, silent, "negotiate: timeout after 200ms"},
		{"hang up", Spec{Type: "http"}, hangup, "http: connection closed before a full response"},
		{"truncated body", Spec{Type: "negotiate", Receive: ok}, truncated, "negotiate: reading body: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNewChecker(t, tt.spec)
			wantErr(t, fmt.Sprintf("Check(%s %s)", tt.spec.Type, tt.spec.Request), c.Check(context.Background(), tt.target), tt.want)
		})
	}
	t.Run("host and path", func(t *testing.T) {
		c := mustNewChecker(t, Spec{Type: "negotiate", Request: "/ok?probe=1", Host: "www.example.org", Receive: ok})
		wantErr(t, "Check", c.Check(context.Background(), good), "")
		if gotHost != "www.example.org" || gotPath != "/ok?probe=1" {
			t.Errorf("server saw Host %q path %q, want www.example.org /ok?probe=1", gotHost, gotPath)
		}
		c = mustNewChecker(t, Spec{Type: "http"})
		c.Check(context.Background(), good)
		if gotHost != good.String() {
			t.Errorf("default Host = %q, want %q", gotHost, good)
		}
	})
}

func TestExternal(t *testing.T) {
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	target := netip.MustParseAddrPort("127.0.0.1:8080")
	// Only the timeout cases get a short timeout: a script that must
	// finish may take longer than 300ms to start on a loaded machine.
	const short = 300 * time.Millisecond
	tests := []struct {
		name    string
		body    string
		timeout time.Duration // 0: 2s, the default interval
		want    string
	}{
		{"exit 0", "exit 0", 0, ""},
		{"OK output", "echo OK", 0, ""},
		{"exit 1", "echo backend down; exit 1", 0, "exit status 1: backend down"},
		{"FAIL with exit 0", "echo FAIL disk full", 0, "FAIL disk full"},
		{"timeout", "sleep 30", short, "timeout after 300ms"},
		{"timeout with child", "sleep 30 & wait", short, "timeout after 300ms"},
		{"args and env", `echo "$@ $HAPAIR_RIP:$HAPAIR_RPORT" > ` + argsFile, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog := testkit.WriteScript(t, dir, strings.ReplaceAll(tt.name, " ", "_"), tt.body)
			timeout := cmp.Or(tt.timeout, 2*time.Second)
			c := mustNewChecker(t, Spec{Type: "external", Program: prog, Args: []string{"-x"}, Virtual: netip.MustParseAddrPort("198.18.0.100:80"), Timeout: timeout})
			start := time.Now()
			err := c.Check(context.Background(), target)
			wantErr(t, "Check("+tt.name+")", err, tt.want)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("Check(%s) took %v, want the timeout to kill it", tt.name, el)
			}
		})
	}
	b, err := os.ReadFile(argsFile)
	if got, want := strings.TrimSpace(string(b)), "-x 198.18.0.100 80 127.0.0.1 8080 127.0.0.1:8080"; err != nil || got != want {
		t.Errorf("script saw %q (%v), want %q", got, err, want)
	}
	c := mustNewChecker(t, Spec{Type: "external", Program: filepath.Join(dir, "missing")})
	wantErr(t, "Check(missing)", c.Check(context.Background(), target), "no such file or directory")
}

// countingChecker records which checks ran.
type recordingChecker struct {
	name string
	log  *[]string
}

func (r recordingChecker) Check(context.Context, netip.AddrPort) error {
	*r.log = append(*r.log, r.name)
	return nil
}

func TestMixed(t *testing.T) {
	var log []string
	m := &MixedChecker{N: 3, Connect: recordingChecker{"c", &log}, Negotiate: recordingChecker{"n", &log}}
	a, b := netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:2")
	for range 7 {
		m.Check(context.Background(), a)
	}
	m.Check(context.Background(), b)
	m.Forget(a)
	m.Check(context.Background(), a)
	if got, want := strings.Join(log, ""), "nccnccn"+"n"+"n"; got != want {
		t.Errorf("N=3 sequence = %q, want %q (negotiate first, then every 3rd; per target; Forget restarts)", got, want)
	}
	c := mustNewChecker(t, Spec{Type: "2", Receive: regexp.MustCompile("ok")})
	if mc, ok := c.(*MixedChecker); !ok || mc.N != 2 {
		t.Errorf("New(Type 2) = %T %+v, want *MixedChecker with N 2", c, c)
	}
}

// A request written without its leading "/" gets one, as ldirectord's
// request="index.html" does.
func TestNormalizeRequest(t *testing.T) {
	for in, want := range map[string]string{"index.html": "/index.html", "/status": "/status", "": "", "a/b?c": "/a/b?c", "http://x/y": "http://x/y"} {
		if got := NormalizeRequest(in); got != want {
			t.Errorf("NormalizeRequest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (Spec{Type: "http", Request: "index.html"}).WithDefaults().Request; got != "/index.html" {
		t.Errorf("WithDefaults().Request = %q, want /index.html", got)
	}
}
