package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/proxytest"
)

// newBalancer makes a balancer closed when the test ends, with opts[0]
// when given (Close may also be called by the test: it is idempotent).
func newBalancer(t *testing.T, cfg Config, opts ...Options) *Balancer {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	b, err := New(cfg, o)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func reals(bs ...*proxytest.Backend) []RealConfig {
	var rs []RealConfig
	for _, b := range bs {
		rs = append(rs, RealConfig{Address: b.Addr, Weight: 1})
	}
	return rs
}

var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// httpGet returns the body of a 200 answer, or an error.
func httpGet(addr netip.AddrPort) (string, error) {
	resp, err := httpClient.Get("http://" + addr.String() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// waitHealthy waits until every real of the service is healthy (checked
// reals start down until their first check passes).
func waitHealthy(t *testing.T, b *Balancer, name string) {
	t.Helper()
	testkit.WaitFor(t, name+" reals healthy", func() bool {
		for _, r := range svcStatus(t, b, name).Reals {
			if !r.Healthy {
				return false
			}
		}
		return true
	})
}

func svcStatus(t *testing.T, b *Balancer, name string) ServiceStatus {
	t.Helper()
	for _, s := range b.Snapshot().Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("service %q not in snapshot", name)
	return ServiceStatus{}
}

func TestActivateAndRoundRobin(t *testing.T) {
	a, c := proxytest.TCP(t, "a"), proxytest.TCP(t, "c")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "tcp", Listen: listen, Scheduler: "rr", Reals: reals(a, c),
	}}})
	if out, err := proxytest.TCPRequest(listen.String(), "x"); err == nil && out != "" {
		t.Fatalf("request before Activate = %q, want refused", out)
	}
	if err := b.Activate("tcp", "nosuch"); err == nil || !strings.Contains(err.Error(), `unknown service(s) ["nosuch"]`) {
		t.Errorf("Activate(tcp, nosuch) = %v, want unknown service error naming nosuch", err)
	}
	seen := map[string]int{}
	for i := range 10 {
		out, err := proxytest.TCPRequest(listen.String(), "x")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		seen[out]++
	}
	if seen["x|a"] != 5 || seen["x|c"] != 5 {
		t.Errorf("rr spread = %v, want 5 each", seen)
	}
	// Each request sends "x" and gets "x|a" or "x|c" back; each direction
	// is counted when it ends, just after the client has its answer.
	testkit.WaitFor(t, "bytes counted", func() bool {
		st := svcStatus(t, b, "tcp")
		return st.Stats.TCP.BytesIn == 10 && st.Stats.TCP.BytesOut == 30 &&
			st.Reals[0].BytesIn == 5 && st.Reals[1].BytesOut == 15
	})
	st := svcStatus(t, b, "tcp")
	if st.FirstConnection.IsZero() || st.Reals[0].Scheduled != 5 || st.Reals[1].Scheduled != 5 {
		t.Errorf("status = first connection %v, scheduled %d and %d; want a first connection and 5 each",
			st.FirstConnection, st.Reals[0].Scheduled, st.Reals[1].Scheduled)
	}
	if err := b.Deactivate("tcp"); err != nil {
		t.Fatal(err)
	}
	if out, err := proxytest.TCPRequest(listen.String(), "x"); err == nil && out != "" {
		t.Errorf("request after Deactivate = %q, want refused", out)
	}
	// A new activation (a takeover) waits for its own first connection.
	if err := b.Activate("tcp"); err != nil {
		t.Fatal(err)
	}
	if st := svcStatus(t, b, "tcp"); !st.FirstConnection.IsZero() {
		t.Errorf("first connection right after a new Activate = %v, want none yet", st.FirstConnection)
	}
}

// TestKillReal: after fall×interval+timeout the dead real is out, and no
// request fails at any point (connect failures are retried meanwhile).
func TestKillReal(t *testing.T) {
	a, c := proxytest.HTTP(t, "a"), proxytest.HTTP(t, "c")
	listen := proxytest.ClosedPort(t)
	const interval, timeout, fall = 50 * time.Millisecond, 50 * time.Millisecond, 2
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "web", Listen: listen, Mode: "http", Scheduler: "rr", Reals: reals(a, c),
		Check: check.Spec{Type: "connect", Interval: interval, Timeout: timeout, Fall: fall},
	}}})
	b.Activate("web")
	waitHealthy(t, b, "web")
	c.Close()
	killed := time.Now()
	var failed []error
	for range 40 {
		if _, err := httpGet(listen); err != nil {
			failed = append(failed, err)
		}
	}
	testkit.WaitFor(t, "real c marked down", func() bool { return !svcStatus(t, b, "web").Reals[1].Healthy })
	if d, bound := time.Since(killed), fall*interval+timeout+time.Second; d > bound {
		t.Errorf("real marked down after %v, want within %v", d, bound)
	}
	for i := range 20 {
		if body, err := httpGet(listen); err != nil || body != "a" {
			failed = append(failed, fmt.Errorf("request %d after detection = %q, %v", i, body, err))
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d requests failed, want 0: %v", len(failed), failed)
	}
	r := svcStatus(t, b, "web").Reals[1]
	if r.Reason == "" || !strings.Contains(r.Reason, "refused") || !r.Removed {
		t.Errorf("dead real status = %+v, want removed with a connection-refused reason", r)
	}
}

func TestFallbackWhenAllDown(t *testing.T) {
	a, sorry := proxytest.HTTP(t, "a"), proxytest.HTTP(t, "sorry")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "web", Listen: listen, Mode: "http", Reals: reals(a), Fallback: sorry.Addr,
		Check: check.Spec{Type: "connect", Interval: 20 * time.Millisecond},
	}}})
	b.Activate("web")
	waitHealthy(t, b, "web")
	if body, err := httpGet(listen); err != nil || body != "a" {
		t.Fatalf("GET with a up = %q, %v; want %q", body, err, "a")
	}
	a.Close()
	testkit.WaitFor(t, "pool fallback", func() bool { return svcStatus(t, b, "web").Pool == "fallback" })
	for i := range 5 {
		if body, err := httpGet(listen); err != nil || body != "sorry" {
			t.Errorf("GET %d with every real down = %q, %v; want %q", i, body, err, "sorry")
		}
	}
}

func TestNoRealNoFallback503(t *testing.T) {
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "web", Listen: listen, Mode: "http", Reals: []RealConfig{{Address: proxytest.ClosedPort(t), Weight: 1}},
		Check: check.Spec{Type: "connect", Interval: 20 * time.Millisecond},
	}}})
	b.Activate("web")
	testkit.WaitFor(t, "pool none", func() bool { return svcStatus(t, b, "web").Pool == "none" })
	body, err := httpGet(listen)
	if err == nil || !strings.Contains(body, `hapair: service "web": no real server available`) {
		t.Errorf("GET = %q, %v; want 503 naming the service", body, err)
	}
}

func TestMonitorSwitchesPools(t *testing.T) {
	a, bk := proxytest.HTTP(t, "primary"), proxytest.HTTP(t, "backup")
	// The script stays put and prints a word the test changes: rewriting
	// the executable itself races the monitor's fork (ETXTBSY, Go issue
	// 22315).
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	script := testkit.WriteScript(t, dir, "check-db", `echo "$(cat `+state+`) from test"`)
	setScript := func(word string) {
		t.Helper()
		// Write then rename: the monitor never reads a half-written word.
		if err := os.WriteFile(state+".tmp", []byte(word), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(state+".tmp", state); err != nil {
			t.Fatal(err)
		}
	}
	setScript("OK")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "web", Listen: listen, Mode: "http", Reals: reals(a), Backups: reals(bk),
		Monitors: []check.Monitor{{Program: script, Interval: 250 * time.Millisecond}}, // the timeout is the interval: a loaded machine may take tens of ms to fork a shell
	}}})
	b.Activate("web")
	steps := []struct {
		word, pool, body string
	}{
		{"OK", "primary", "primary"},
		{"FAIL", "backup", "backup"},
		{"OK", "primary", "primary"},
	}
	for _, st := range steps {
		setScript(st.word)
		testkit.WaitFor(t, "pool "+st.pool, func() bool { return svcStatus(t, b, "web").Pool == st.pool })
		if st.pool == "backup" {
			if r := svcStatus(t, b, "web").PoolReason; !strings.Contains(r, "check-db") || !strings.Contains(r, "FAIL") {
				t.Errorf("pool reason = %q, want the monitor and its output", r)
			}
		}
		for range 3 {
			if body, err := httpGet(listen); err != nil || body != st.body {
				t.Errorf("monitor %s: GET = %q, %v; want %q", st.word, body, err, st.body)
			}
		}
	}
}

func TestStickyClient(t *testing.T) {
	a, c := proxytest.TCP(t, "a"), proxytest.TCP(t, "c")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "tcp", Listen: listen, Scheduler: "rr", Persistent: time.Minute, Reals: reals(a, c),
	}}})
	b.Activate("tcp")
	for _, src := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		var got []string
		for range 6 {
			out, err := requestFrom(src, listen.String(), "x")
			if err != nil {
				t.Fatalf("request from %s: %v", src, err)
			}
			got = append(got, out)
		}
		for _, g := range got[1:] {
			if g != got[0] {
				t.Errorf("client %s replies = %q, want all from one real", src, got)
				break
			}
		}
	}
	exp := b.ExportPersistence()["tcp"]
	if len(exp) != 3 {
		t.Errorf("ExportPersistence()[tcp] has %d entries, want 3: %v", len(exp), exp)
	}
}

// requestFrom is proxytest.TCPRequest from a chosen loopback source.
func requestFrom(src, addr, msg string) (string, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// onReal returns the index of the one real with an active connection.
func onReal(t *testing.T, b *Balancer, name string) int {
	t.Helper()
	for i, r := range svcStatus(t, b, name).Reals {
		if r.ActiveConn == 1 {
			return i
		}
	}
	t.Fatalf("no real of %s has the established connection: %+v", name, svcStatus(t, b, name).Reals)
	return -1
}

// echoConn opens a connection through the balancer and checks it echoes.
func echoConn(t *testing.T, addr netip.AddrPort) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	checkEcho(t, c, "hello")
	return c
}

func checkEcho(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write on established connection: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo on established connection = %q, %v; want %q", buf, err, msg)
	}
}

func TestDrain(t *testing.T) {
	a, c := proxytest.TCP(t, "a"), proxytest.TCP(t, "c")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "tcp", Listen: listen, Scheduler: "rr", Reals: reals(a, c),
	}}})
	b.Activate("tcp")
	est := echoConn(t, listen)
	// rr starts at a random offset: find the real est went to.
	i := onReal(t, b, "tcp")
	if i == 1 {
		a, c = c, a
	}
	if err := b.DisableReal("tcp", a.Addr); err != nil {
		t.Fatal(err)
	}
	want := "x|" + c.Name
	for i := range 6 {
		if out, err := proxytest.TCPRequest(listen.String(), "x"); err != nil || out != want {
			t.Errorf("request %d while %s drains = %q, %v; want %q", i, a.Name, out, err, want)
		}
	}
	checkEcho(t, est, "still here")
	ra := svcStatus(t, b, "tcp").Reals[i]
	if !ra.Draining || ra.ActiveConn != 1 || ra.Effective != 0 {
		t.Errorf("drained real = %+v, want draining, 1 active conn, effective weight 0", ra)
	}
	if err := b.DisableReal("tcp", netip.MustParseAddrPort("127.0.0.1:1")); err == nil || !strings.Contains(err.Error(), `service "tcp" has no real 127.0.0.1:1`) {
		t.Errorf("DisableReal(unknown real) = %v, want error naming it", err)
	}
	b.EnableReal("tcp", a.Addr)
	seen := map[string]bool{}
	for range 4 {
		out, _ := proxytest.TCPRequest(listen.String(), "x")
		seen[out] = true
	}
	if !seen["x|"+a.Name] {
		t.Errorf("after EnableReal replies = %v, want %s back in rotation", seen, a.Name)
	}
}

// TestReloadUnderLoad reloads (add, re-weight, remove reals, change the
// scheduler) while a bounded load loop runs: no request may fail, and a
// connection established to a real that the reload removes keeps working.
func TestReloadUnderLoad(t *testing.T) {
	a, c, d := proxytest.TCP(t, "a"), proxytest.TCP(t, "c"), proxytest.TCP(t, "d")
	listen := proxytest.ClosedPort(t)
	cfg := func(sch string, rs ...RealConfig) Config {
		return Config{Services: []ServiceConfig{{Name: "tcp", Listen: listen, Scheduler: sch, Reals: rs}}}
	}
	b := newBalancer(t, cfg("rr", reals(a, c)...))
	b.Activate("tcp")
	est := echoConn(t, listen)
	if onReal(t, b, "tcp") == 1 {
		a, c = c, a // make a the real est is on: the reload removes it
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	stop := make(chan struct{})
	wg.Go(func() {
		for i := range 2000 { // bounded; stopped earlier by the test
			select {
			case <-stop:
				return
			default:
			}
			if out, err := proxytest.TCPRequest(listen.String(), "x"); err != nil || !strings.HasPrefix(out, "x|") {
				mu.Lock()
				failed = append(failed, fmt.Errorf("request %d = %q, %v", i, out, err))
				mu.Unlock()
			}
		}
	})
	steps := []Config{
		cfg("rr", RealConfig{Address: a.Addr, Weight: 1}, RealConfig{Address: c.Addr, Weight: 1}, RealConfig{Address: d.Addr, Weight: 1}),
		cfg("wrr", RealConfig{Address: a.Addr, Weight: 3}, RealConfig{Address: c.Addr, Weight: 1}, RealConfig{Address: d.Addr, Weight: 2}),
		cfg("wlc", RealConfig{Address: c.Addr, Weight: 1}, RealConfig{Address: d.Addr, Weight: 1}), // a removed
	}
	for _, st := range steps {
		before := d.Served() + c.Served() + a.Served()
		if err := b.Reload(st); err != nil {
			t.Fatalf("Reload() = %v", err)
		}
		testkit.WaitFor(t, "traffic after reload", func() bool { return d.Served()+c.Served()+a.Served() > before+20 })
	}
	close(stop)
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d requests failed during reloads, want 0; first: %v", len(failed), failed[0])
	}
	checkEcho(t, est, "survived")
	if s := svcStatus(t, b, "tcp"); s.Scheduler != "wlc" || len(s.Reals) != 2 {
		t.Errorf("after reload: scheduler %s with %d reals, want wlc with 2", s.Scheduler, len(s.Reals))
	}
	aBefore := a.Served()
	for range 5 {
		proxytest.TCPRequest(listen.String(), "x")
	}
	if a.Served() != aBefore {
		t.Errorf("removed real a served %d new requests, want 0", a.Served()-aBefore)
	}
}

func TestReloadAddsAndRemovesServices(t *testing.T) {
	a := proxytest.TCP(t, "a")
	l1, l2 := proxytest.ClosedPort(t), proxytest.ClosedPort(t)
	one := ServiceConfig{Name: "one", Listen: l1, Reals: reals(a)}
	b := newBalancer(t, Config{Services: []ServiceConfig{one}})
	b.Activate("one", "two") // two does not exist yet: remembered
	two := ServiceConfig{Name: "two", Listen: l2, Reals: reals(a)}
	if err := b.Reload(Config{Services: []ServiceConfig{one, two}}); err != nil {
		t.Fatal(err)
	}
	if out, err := proxytest.TCPRequest(l2.String(), "x"); err != nil || out != "x|a" {
		t.Errorf("added service = %q, %v; want active and serving", out, err)
	}
	est := echoConn(t, l1)
	if err := b.Reload(Config{Services: []ServiceConfig{two}}); err != nil {
		t.Fatal(err)
	}
	if out, err := proxytest.TCPRequest(l1.String(), "x"); err == nil && out != "" {
		t.Errorf("removed service still answers %q", out)
	}
	checkEcho(t, est, "removed service, established connection")
	// Mode change on the same address: replaced in place.
	two.Mode = "http"
	web := proxytest.HTTP(t, "web")
	two.Reals = reals(web)
	if err := b.Reload(Config{Services: []ServiceConfig{two}}); err != nil {
		t.Fatal(err)
	}
	if body, err := httpGet(l2); err != nil || body != "web" {
		t.Errorf("service switched to http = %q, %v; want %q", body, err, "web")
	}
}

func TestUDPService(t *testing.T) {
	s1 := proxytest.UDP(t, "sip1")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "sip", Listen: listen, Protocol: "udp", Reals: reals(s1),
	}}})
	b.Activate("sip")
	if out, err := proxytest.UDPRequest(listen, "OPTIONS sip:lb SIP/2.0"); err != nil || out != "sip1:OPTIONS sip:lb SIP/2.0" {
		t.Errorf("SIP round trip = %q, %v", out, err)
	}
	if r := svcStatus(t, b, "sip").Reals[0]; r.InActConn != 1 {
		t.Errorf("UDP flow counted %d inactive, want 1", r.InActConn)
	}
}

func TestFreebindServices(t *testing.T) {
	// 198.18.0.0/15 is not on the host: binding works only with
	// IP_FREEBIND. No traffic is sent there.
	listen := netip.MustParseAddrPort("198.18.77.78:5060")
	real := netip.MustParseAddrPort("198.18.77.79:5060")
	b := newBalancer(t, Config{Services: []ServiceConfig{
		{Name: "sip-udp", Listen: listen, Protocol: "udp", Reals: []RealConfig{{Address: real, Weight: 1}}},
		{Name: "sip-tcp", Listen: listen, Protocol: "tcp", Reals: []RealConfig{{Address: real, Weight: 1}}},
	}})
	if n := len(b.Snapshot().Services); n != 2 {
		t.Errorf("Snapshot() has %d services, want 2", n)
	}
}

func TestConfigErrors(t *testing.T) {
	l := netip.MustParseAddrPort("127.0.0.1:1")
	r := []RealConfig{{Address: netip.MustParseAddrPort("127.0.0.1:2"), Weight: 1}}
	tests := []struct {
		name string
		svc  []ServiceConfig
		want string
	}{
		{"no name", []ServiceConfig{{Listen: l}}, "proxy: services[0].name: required"},
		{"no port", []ServiceConfig{{Name: "x", Listen: netip.AddrPortFrom(l.Addr(), 0)}}, `services[0].listen: "127.0.0.1:0" needs an IP and a port`},
		{"protocol", []ServiceConfig{{Name: "x", Listen: l, Protocol: "sctp"}}, `services[0].protocol: "sctp" is not one of tcp, udp`},
		{"http over udp", []ServiceConfig{{Name: "x", Listen: l, Protocol: "udp", Mode: "http"}}, `services[0].mode: http mode needs protocol "tcp"; udp services are l4`},
		{"scheduler", []ServiceConfig{{Name: "x", Listen: l, Scheduler: "fair"}}, `services[0].scheduler: "fair" is not one of rr, wrr, lc, wlc, sh`},
		{"weight", []ServiceConfig{{Name: "x", Listen: l, Reals: []RealConfig{{Address: r[0].Address, Weight: 70000}}}}, "services[0].reals[0].weight: 70000 is out of range 0..65535"},
		{"twice", []ServiceConfig{{Name: "x", Listen: l, Reals: append(r, r...)}}, "services[0].reals[1].address: 127.0.0.1:2 is listed again (first at services[0].reals[0].address)"},
		{"duplicate service", []ServiceConfig{{Name: "x", Listen: l}, {Name: "x", Listen: l}}, `services[1].name: service name "x" is used again (first at services[0].name)`},
		{"real is listen", []ServiceConfig{{Name: "x", Listen: l, Reals: []RealConfig{{Address: l}}}}, "services[0].reals[0].address: 127.0.0.1:1 is the service's own listen address 127.0.0.1:1: it would forward to itself"},
		{"wildcard and loopback real", []ServiceConfig{{Name: "x", Listen: netip.MustParseAddrPort("0.0.0.0:1"), Fallback: l}}, "services[0].fallback: 127.0.0.1:1 is the service's own listen address 0.0.0.0:1: it would forward to itself"},
		{"wildcard overlap", []ServiceConfig{{Name: "x", Listen: l}, {Name: "y", Listen: netip.MustParseAddrPort("0.0.0.0:1")}}, `services[1].listen: tcp 0.0.0.0:1 collides with tcp 127.0.0.1:1 of service "x"`},
		{"udp connect", []ServiceConfig{{Name: "x", Listen: l, Protocol: "udp", Check: check.Spec{Type: "connect"}}}, `services[0].check.type: "connect" cannot probe a udp service; use sip or external`},
		{"same listen", []ServiceConfig{{Name: "x", Listen: l}, {Name: "y", Listen: l}}, `services[1].listen: tcp 127.0.0.1:1 collides with tcp 127.0.0.1:1 of service "x"`},
		// A real's own request goes through the same path rules as the
		// service's; check.New would refuse it at runtime, leaving the real
		// unchecked.
		{"real's own request with a space", []ServiceConfig{{Name: "x", Listen: l, Check: check.Spec{Type: "negotiate", Receive: regexp.MustCompile("ok")},
			Reals: []RealConfig{{Address: r[0].Address, Request: "a b"}}}}, `services[0].reals[0].request: "/a b": an HTTP path holds no spaces or control characters`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Services: tc.svc}, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	snap := Snapshot{Services: []ServiceStatus{{
		Name: "web", Protocol: "tcp", Listen: "198.18.0.10:80", Mode: "http", Scheduler: "wrr",
		Persistent: "5m0s", Check: "connect", Active: true, Pool: "primary", PoolReason: "all monitors ok, primaries usable",
		Reals: []RealStatus{
			{Address: "198.18.1.1:80", Pool: "primary", Weight: 2, Effective: 2, Healthy: true, Reason: "ok", ActiveConn: 3, InActConn: 1},
			{Address: "198.18.1.2:80", Pool: "primary", Weight: 1, Healthy: false, Removed: true, Reason: "connect: connection refused"},
		},
	}}}
	var buf bytes.Buffer
	if err := snap.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	want := `Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Pool     Weight ActiveConn InActConn  Health
TCP 198.18.0.10:80 wrr persistent 300 (web: mode http, check connect, active, pool primary: all monitors ok, primaries usable)
  -> 198.18.1.1:80                primary  2      3          1          up (ok)
  -> 198.18.1.2:80                primary  0      0          0          down, removed (connect: connection refused)
`
	if got := buf.String(); got != want {
		t.Errorf("WriteTable() =\n%s\nwant\n%s", got, want)
	}
}

// TestQuiescentVsRemoval: a failed real in a quiescent service keeps its
// clients' affinity (they return when it recovers) and shows weight 0; in a
// non-quiescent service it is removed and its affinity forgotten.
func TestQuiescentVsRemoval(t *testing.T) {
	for _, quiescent := range []bool{true, false} {
		t.Run(fmt.Sprintf("quiescent=%v", quiescent), func(t *testing.T) {
			a := proxytest.TCP(t, "a")
			listen := proxytest.ClosedPort(t)
			b := newBalancer(t, Config{Services: []ServiceConfig{{
				Name: "tcp", Listen: listen, Persistent: time.Minute, Quiescent: quiescent, Reals: reals(a),
				Check: check.Spec{Type: "connect", Interval: 20 * time.Millisecond, Fall: 1},
			}}})
			b.Activate("tcp")
			waitHealthy(t, b, "tcp")
			if out, err := proxytest.TCPRequest(listen.String(), "x"); err != nil || out != "x|a" {
				t.Fatalf("request = %q, %v", out, err)
			}
			a.Close()
			testkit.WaitFor(t, "real down", func() bool { return !svcStatus(t, b, "tcp").Reals[0].Healthy })
			r := svcStatus(t, b, "tcp").Reals[0]
			entries := len(b.ExportPersistence()["tcp"])
			wantEntries := 0
			if quiescent {
				wantEntries = 1
			}
			if r.Removed == quiescent || r.Effective != 0 || entries != wantEntries {
				t.Errorf("down real: removed=%v effective=%d, %d affinity entries; want removed=%v, 0, %d",
					r.Removed, r.Effective, entries, !quiescent, wantEntries)
			}
		})
	}
}
