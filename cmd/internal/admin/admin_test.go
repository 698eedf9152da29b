package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/l4"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// fakeSource is a Source whose snapshots the test sets.
type fakeSource struct {
	mu       sync.Mutex
	status   ctl.Status
	services *proxy.Snapshot
	reloads  map[string]uint64
}

func (f *fakeSource) Status() ctl.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeSource) Services() *proxy.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.services
}

func (f *fakeSource) Reloads() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reloads
}

func (f *fakeSource) set(fn func(*fakeSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// pairSource is lb2 right after taking group web from a crashed lb1.
func pairSource() *fakeSource {
	return &fakeSource{
		status: ctl.Status{
			Node: "lb2", Cluster: "web", ClusterID: 7, Generation: 3, Started: t0.Add(-time.Hour),
			Peers: []ctl.PeerStatus{{Name: "lb1", Alive: false, LastHeard: t0, Links: map[string]bool{"mcast0": false}}},
			Groups: []ctl.GroupStatus{{
				Name: "web", Owner: "lb2", State: "master", Preferred: "lb1", Priority: 100,
				Reason: "taking over: no owner, lb2 ranks first (lb2:100)", Since: t0.Add(250 * time.Millisecond),
				VIPs: []string{"198.18.0.10/24"},
				LastTakeover: &ctl.Timeline{PeerLastHeard: t0, Started: t0.Add(200 * time.Millisecond),
					Running: t0.Add(212 * time.Millisecond), FirstARP: t0.Add(215 * time.Millisecond),
					FirstPacket: t0.Add(225 * time.Millisecond), FirstConnection: t0.Add(230 * time.Millisecond)},
			}},
			Links: []ctl.LinkStatus{{Name: "mcast0", Kind: "mcast", Sent: 40, Received: 38,
				Drops: map[string]uint64{"bad-mac": 2, "replay": 1}, Heard: map[string]uint64{"lb1": 35}, SentTo: map[string]uint64{"lb1": 40}}},
			Events: map[string]uint64{"split-brain": 2, "split-brain-resolved": 1, "dead": 1},
			Recent: []ctl.Transition{{Time: t0.Add(200 * time.Millisecond), Group: "web", State: "starting", Reason: "taking over: no owner"}},
		},
		services: &proxy.Snapshot{Services: []proxy.ServiceStatus{{
			Name: "http", Protocol: "tcp", Listen: "198.18.0.10:80", Mode: "l4", Scheduler: "wrr",
			Persistent: "5m0s", Active: true, Pool: "primary", PoolReason: "primaries up",
			Reals: []proxy.RealStatus{
				{Address: "198.18.1.1:80", Pool: "primary", Weight: 1, Effective: 1, Healthy: true, Reason: "ok", ActiveConn: 3},
				{Address: "198.18.1.2:80", Pool: "primary", Weight: 2, Healthy: false, Removed: true, Reason: "connect: connection refused",
					Checks: 10, CheckFailures: 4, LastCheckSeconds: 0.002, CheckSeconds: 0.015},
			},
			Stats: proxy.ServiceStats{TCP: &l4.TCPStats{Accepted: 17, Open: 3, BytesIn: 1000, BytesOut: 50000}},
		}}},
		reloads: map[string]uint64{"ok": 2},
	}
}

func newTestServer(t *testing.T, src Source) *Server {
	t.Helper()
	s, err := New(Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMetricsLint(t *testing.T) {
	s := newTestServer(t, pairSource())
	problems, err := testutil.GatherAndLint(s.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsValues(t *testing.T) {
	s := newTestServer(t, pairSource())
	want := `
# HELP hapair_heartbeat_drops_total Datagrams dropped on a heartbeat link, by reason (ttl, short, bad-mac, malformed, version, wrong-cluster, unknown-sender, self, replay, duplicate).
# TYPE hapair_heartbeat_drops_total counter
hapair_heartbeat_drops_total{link="mcast0",reason="bad-mac"} 2
hapair_heartbeat_drops_total{link="mcast0",reason="replay"} 1
# HELP hapair_heartbeats_received_total Heartbeats from a peer that passed every check on a link (duplicates of another link's copy included).
# TYPE hapair_heartbeats_received_total counter
hapair_heartbeats_received_total{link="mcast0",peer="lb1"} 35
# HELP hapair_heartbeats_sent_total Heartbeats sent to a peer on a link (a multicast datagram counts for every peer).
# TYPE hapair_heartbeats_sent_total counter
hapair_heartbeats_sent_total{link="mcast0",peer="lb1"} 40
# HELP hapair_peer_up 1 while a peer is alive (heard on any link within deadtime), else 0.
# TYPE hapair_peer_up gauge
hapair_peer_up{peer="lb1"} 0
# HELP hapair_group_owner 1 for the node that owns a group as this node sees it (owner "" when none).
# TYPE hapair_group_owner gauge
hapair_group_owner{group="web",owner="lb2"} 1
# HELP hapair_real_up 1 while a real's health check passes (or it is not checked), else 0.
# TYPE hapair_real_up gauge
hapair_real_up{pool="primary",real="198.18.1.1:80",service="http"} 1
hapair_real_up{pool="primary",real="198.18.1.2:80",service="http"} 0
# HELP hapair_real_checks_total Completed health checks of a real, by result (ok, failed).
# TYPE hapair_real_checks_total counter
hapair_real_checks_total{pool="primary",real="198.18.1.1:80",result="failed",service="http"} 0
hapair_real_checks_total{pool="primary",real="198.18.1.1:80",result="ok",service="http"} 0
hapair_real_checks_total{pool="primary",real="198.18.1.2:80",result="failed",service="http"} 4
hapair_real_checks_total{pool="primary",real="198.18.1.2:80",result="ok",service="http"} 6
# HELP hapair_real_check_duration_seconds_total Time spent in a real's completed health checks; divided by real_checks_total, the mean check latency.
# TYPE hapair_real_check_duration_seconds_total counter
hapair_real_check_duration_seconds_total{pool="primary",real="198.18.1.1:80",service="http"} 0
hapair_real_check_duration_seconds_total{pool="primary",real="198.18.1.2:80",service="http"} 0.015
# HELP hapair_service_bytes_total Bytes a virtual service relayed, by direction: in (client to real) and out (real to client), like ipvsadm --stats (HTTP mode: request and response bodies; TCP: each direction added when it ends).
# TYPE hapair_service_bytes_total counter
hapair_service_bytes_total{direction="in",service="http"} 1000
hapair_service_bytes_total{direction="out",service="http"} 50000
# HELP hapair_service_connections_total Client connections (tcp), flows (udp) or requests (http) a virtual service took.
# TYPE hapair_service_connections_total counter
hapair_service_connections_total{service="http"} 17
# HELP hapair_split_brain_seen_total Times a peer was seen holding a group this node holds (split brain).
# TYPE hapair_split_brain_seen_total counter
hapair_split_brain_seen_total 2
# HELP hapair_split_brain_resolved_total Split brains resolved: of two holders, one released the group while both heard each other.
# TYPE hapair_split_brain_resolved_total counter
hapair_split_brain_resolved_total 1
# HELP hapair_reloads_total Config reloads by result (ok, failed).
# TYPE hapair_reloads_total counter
hapair_reloads_total{result="failed"} 0
hapair_reloads_total{result="ok"} 2
`
	if err := testutil.GatherAndCompare(s.reg, strings.NewReader(want),
		"hapair_heartbeat_drops_total", "hapair_heartbeats_received_total", "hapair_heartbeats_sent_total", "hapair_peer_up",
		"hapair_group_owner", "hapair_real_up", "hapair_service_connections_total", "hapair_reloads_total",
		"hapair_real_checks_total", "hapair_real_check_duration_seconds_total",
		"hapair_split_brain_seen_total", "hapair_split_brain_resolved_total", "hapair_service_bytes_total"); err != nil {
		t.Error(err)
	}
	// Exactly one state is 1 per group.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var ones []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "hapair_group_state{") && strings.HasSuffix(line, " 1") {
			ones = append(ones, line)
		}
	}
	if len(ones) != 1 || !strings.Contains(ones[0], `state="master"`) {
		t.Errorf("hapair_group_state series at 1 = %q, want only state=master", ones)
	}
}

func TestTakeoverHistogram(t *testing.T) {
	src := pairSource()
	s := newTestServer(t, src)
	scrape := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	body := scrape()
	body = scrape() // a second scrape must not count the same takeover again
	for _, want := range []string{
		`hapair_takeover_duration_seconds_count{group="web",kind="takeover",phase="detection"} 1`,
		`hapair_takeover_duration_seconds_sum{group="web",kind="takeover",phase="detection"} 0.2`,
		`hapair_takeover_duration_seconds_sum{group="web",kind="takeover",phase="vip_bound"} 0.012`,
		`hapair_takeover_duration_seconds_bucket{group="web",kind="takeover",phase="first_garp",le="0.01"} 0`,
		`hapair_takeover_duration_seconds_bucket{group="web",kind="takeover",phase="first_garp",le="0.02"} 1`,
		`hapair_takeover_duration_seconds_count{group="web",kind="takeover",phase="first_garp"} 1`,
		`hapair_takeover_duration_seconds_sum{group="web",kind="takeover",phase="first_packet"} 0.025`,
		`hapair_takeover_duration_seconds_sum{group="web",kind="takeover",phase="first_connection"} 0.03`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A planned switchover later: lb1 is alive and hands the group over.
	src.set(func(f *fakeSource) {
		f.status.Peers[0].Alive = true
		f.status.Groups[0].LastTakeover = &ctl.Timeline{Started: t0.Add(time.Minute), Running: t0.Add(time.Minute + 3*time.Millisecond)}
	})
	body = scrape()
	for _, want := range []string{
		`hapair_takeover_duration_seconds_count{group="web",kind="takeover",phase="vip_bound"} 1`,
		`hapair_takeover_duration_seconds_count{group="web",kind="switchover",phase="vip_bound"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, `kind="switchover",phase="first_garp"`) {
		t.Errorf("/metrics has a first_garp switchover phase the timeline does not have yet")
	}
}

func TestListenRefusesRemote(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "198.18.0.1:0", "[::]:0"} {
		_, err := Listen(Config{Listen: netip.MustParseAddrPort(addr), Source: pairSource()})
		if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "allow_remote = true") {
			t.Errorf("Listen(%s) = %v, want ErrRemote naming allow_remote", addr, err)
		}
	}
}

func TestReadOnly(t *testing.T) {
	s := newTestServer(t, pairSource())
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		for _, path := range []string{"/", "/metrics", "/api/v1/status"} {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(m, path, strings.NewReader("x")))
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", m, path, rec.Code)
			}
		}
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/nothing", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", rec.Code)
	}
}

func TestAPI(t *testing.T) {
	src := pairSource()
	s := newTestServer(t, src)
	get := func(path string) []byte {
		t.Helper()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s = %d %q, want 200 application/json", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		return rec.Body.Bytes()
	}
	var st ctl.Status
	if err := json.Unmarshal(get("/api/v1/status"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Version != ctl.SchemaVersion || st.Node != "lb2" || st.Groups[0].Owner != "lb2" || st.Groups[0].VIPs[0] != "198.18.0.10/24" {
		t.Errorf("/api/v1/status = %+v, want version %d, node lb2 owning web with its VIP", st, ctl.SchemaVersion)
	}
	var svc struct {
		Version  int                   `json:"version"`
		Services []proxy.ServiceStatus `json:"services"`
	}
	if err := json.Unmarshal(get("/api/v1/services"), &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Version != ctl.SchemaVersion || len(svc.Services) != 1 || len(svc.Services[0].Reals) != 2 {
		t.Errorf("/api/v1/services = %+v, want version %d and service http with 2 reals", svc, ctl.SchemaVersion)
	}
	src.set(func(f *fakeSource) { f.services = nil })
	if got := string(get("/api/v1/services")); !strings.Contains(got, `"services": []`) {
		t.Errorf("/api/v1/services without a balancer = %s, want an empty list", got)
	}
}

func TestPage(t *testing.T) {
	src := pairSource()
	// Reasons come from peers' names and config: the page must escape them.
	src.status.Groups[0].Reason = `<script>alert(1)</script>`
	s := newTestServer(t, src)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body, _ := io.ReadAll(rec.Body)
	page := string(body)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`<code class="vip">198.18.0.10/24</code>`,
		`<td class="owner">lb2</td>`,
		`class="state state-master">master<`,
		`data-real="198.18.1.1:80"`, `data-real="198.18.1.2:80"`,
		`connect: connection refused`,
		`wrr`, `5m0s`, `<b class="pool">primary</b>`,
		`http-equiv="refresh" content="5"`,
		`name="viewport"`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
		`12.0 ms`, // VIP bound 12 ms after the takeover began
		`taking over: no owner`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %s", want)
		}
	}
	// Nothing from outside the binary, and no way to change anything.
	for _, bad := range []string{"<script", "http://", "https://", "src=", "<form", "<link", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("status page contains %q", bad)
		}
	}
}

func TestListenServes(t *testing.T) {
	s, err := Listen(Config{Listen: netip.MustParseAddrPort("127.0.0.1:0"), Source: pairSource(), Sample: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "hapair_build_info{") {
		t.Errorf("/metrics over TCP lacks hapair_build_info:\n%.500s", body)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}
