package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

func TestValidate(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name    string
		in      Options
		wantErr string
		check   func(Options) string
	}{
		{name: "defaults", in: Options{Target: ap("198.18.0.100:80")}, check: func(o Options) string {
			if o.Proto != "tcp" || o.Interval != 10*time.Millisecond || o.Timeout != 200*time.Millisecond || o.Count != 100 || o.Duration != time.Second+200*time.Millisecond {
				return fmt.Sprintf("%+v", o)
			}
			return ""
		}},
		{name: "second lab net", in: Options{Target: ap("198.19.255.1:80")}},
		{name: "loopback", in: Options{Target: ap("127.0.0.1:80")}},
		{name: "outside", in: Options{Target: ap("192.0.2.1:80")}, wantErr: `target "192.0.2.1:80" is outside the lab`},
		{name: "just past the lab", in: Options{Target: ap("198.20.0.1:80")}, wantErr: "outside the lab"},
		{name: "mapped outside", in: Options{Target: ap("[::ffff:10.0.0.1]:80")}, wantErr: "outside the lab"},
		{name: "v6 outside", in: Options{Target: ap("[2001:db8::1]:80")}, wantErr: "outside the lab"},
		{name: "port 0", in: Options{Target: ap("198.18.0.1:0")}, wantErr: "want address:port"},
		{name: "no target", in: Options{}, wantErr: "want address:port"},
		{name: "proto", in: Options{Target: ap("198.18.0.1:1"), Proto: "icmp"}, wantErr: `proto "icmp"`},
		{name: "count", in: Options{Target: ap("198.18.0.1:1"), Count: MaxCount + 1}, wantErr: "count 100001: at most 100000"},
		{name: "duration", in: Options{Target: ap("198.18.0.1:1"), Duration: time.Hour}, wantErr: "duration 1h0m0s: at most 10m0s"},
	} {
		o := tc.in
		err := o.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: Validate(%+v) = %v, want nil", tc.name, tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: Validate(%+v) = %v, want %q", tc.name, tc.in, err, tc.wantErr)
		case tc.check != nil:
			if bad := tc.check(o); bad != "" {
				t.Errorf("%s: Validate filled %s", tc.name, bad)
			}
		}
	}
}

func TestOutages(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	// pattern: one char per attempt every 10ms, '.' ok, 'x' failed taking 5ms.
	attempts := func(pattern string) []Attempt {
		var as []Attempt
		for i, c := range pattern {
			as = append(as, Attempt{Seq: i, Start: t0.Add(time.Duration(i) * 10 * ms), Took: 5 * ms, OK: c == '.'})
		}
		return as
	}
	for _, tc := range []struct {
		pattern string
		want    string // "start-length-failed[-open]" in ms per outage
	}{
		{"....", ""},
		{"..x..", "20+10/1"},
		{"..xxx.", "20+30/3"},
		{"x.xx.", "0+10/1 20+20/2"},
		{"..xx", "20+15/2 open"},
		{"xxxx", "0+35/4 open"},
		{"", ""},
	} {
		var got []string
		for _, o := range Outages(attempts(tc.pattern)) {
			s := fmt.Sprintf("%d+%d/%d", o.Start.Sub(t0)/ms, o.Length/ms, o.Failed)
			if o.Open {
				s += " open"
			}
			got = append(got, s)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("Outages(%q) = %q, want %q", tc.pattern, g, tc.want)
		}
	}
}

// TestServiceOutages: failures the prober's own stall decided are counted apart
// and left out of the target's outages; a timeout on time is not one.
func TestServiceOutages(t *testing.T) {
	o := Options{Timeout: 100 * time.Millisecond}
	for _, tc := range []struct {
		took time.Duration
		want bool
	}{
		{100 * time.Millisecond, false},
		{100*time.Millisecond + StallSlack, false},
		{100*time.Millisecond + StallSlack + time.Millisecond, true},
		{838 * time.Millisecond, true},
	} {
		if got := stalled(o, tc.took); got != tc.want {
			t.Errorf("stalled(timeout 100ms, took %v) = %v, want %v", tc.took, got, tc.want)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	// ok, failed on time, stalled (840ms), ok, failed on time, failed on time, ok
	as := []Attempt{
		{Seq: 0, Start: t0, Took: ms, OK: true},
		{Seq: 1, Start: t0.Add(10 * ms), Took: 100 * ms},
		{Seq: 2, Start: t0.Add(20 * ms), Took: 840 * ms, Stalled: true},
		{Seq: 3, Start: t0.Add(860 * ms), Took: ms, OK: true},
		{Seq: 4, Start: t0.Add(870 * ms), Took: 100 * ms},
		{Seq: 5, Start: t0.Add(880 * ms), Took: 100 * ms},
		{Seq: 6, Start: t0.Add(890 * ms), Took: ms, OK: true},
	}
	r := summarize(o, as)
	if r.Failed != 4 || r.Stalled != 1 || r.Longest != 850*ms {
		t.Errorf("summarize = failed %d, stalled %d, longest %v; want 4, 1, 850ms (every failure)", r.Failed, r.Stalled, r.Longest)
	}
	var got []string
	for _, out := range ServiceOutages(as) {
		got = append(got, fmt.Sprintf("%d+%d/%d", out.Start.Sub(t0)/ms, out.Length/ms, out.Failed))
	}
	// The failure seen on time lasted its 100ms; the stall after it is no outage.
	if g, want := strings.Join(got, " "), "10+100/1 870+20/2"; g != want {
		t.Errorf("ServiceOutages = %q, want %q", g, want)
	}
}

// TestRunLoopback probes fake labsrv-like servers on loopback with each
// protocol, and a closed port: counts, backends and the outage are right.
func TestRunLoopback(t *testing.T) {
	tcpLn := listen(t, "tcp")
	testkit.Accept(t, tcpLn, func(c net.Conn) {
		fmt.Fprintf(c, "backend1\n")
		c.Close()
	})
	httpLn := listen(t, "tcp")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "backend2") })}
	go srv.Serve(httpLn)
	t.Cleanup(func() { srv.Close() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("backend3: "), buf[:n]...), from)
		}
	}()
	closed := listen(t, "tcp")
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		proto, target string
		wantOK        int
		wantBackend   string
	}{
		{"tcp", tcpLn.Addr().String(), 5, "backend1"},
		{"http", httpLn.Addr().String(), 5, "backend2"},
		{"udp", pc.LocalAddr().String(), 5, "backend3"},
		{"tcp", closedAddr, 0, ""},
	} {
		o := Options{Target: netip.MustParseAddrPort(tc.target), Proto: tc.proto, Count: 5, Interval: 2 * time.Millisecond, Timeout: time.Second}
		start := time.Now()
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("Run(%s %s): %v", tc.proto, tc.target, err)
		}
		if r.Sent != 5 || r.OK != tc.wantOK || r.Failed != 5-tc.wantOK {
			t.Errorf("Run(%s %s) = %s, want %d ok of 5", tc.proto, tc.target, r.Summary(), tc.wantOK)
		}
		if tc.wantOK > 0 && r.Backends[tc.wantBackend] != tc.wantOK {
			t.Errorf("Run(%s %s).Backends = %v, want %s=%d", tc.proto, tc.target, r.Backends, tc.wantBackend, tc.wantOK)
		}
		if tc.wantOK == 0 && (len(r.Outages) != 1 || !r.Outages[0].Open || r.Longest <= 0) {
			t.Errorf("Run(%s %s).Outages = %+v, want one open outage", tc.proto, tc.target, r.Outages)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Run(%s %s) took %v, want well under its bound", tc.proto, tc.target, took)
		}
	}
}

// TestRunBounded: a probe against a silent UDP port stops at Duration
// with every attempt timed out, not later.
func TestRunBounded(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	o := Options{Target: netip.MustParseAddrPort(pc.LocalAddr().String()), Proto: "udp", Count: 1000, Interval: 5 * time.Millisecond, Timeout: 50 * time.Millisecond, Duration: 200 * time.Millisecond}
	start := time.Now()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 200*time.Millisecond+o.Timeout+200*time.Millisecond {
		t.Errorf("Run took %v, want about Duration+Timeout (250ms)", took)
	}
	if r.Sent == 0 || r.Sent >= 1000 || r.OK != 0 {
		t.Errorf("Run = %s, want some attempts (<1000), none ok", r.Summary())
	}
}

func listen(t *testing.T, network string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
