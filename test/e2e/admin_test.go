package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// adminStatus is the part of /api/v1/status (= hactl status -o json) this
// test reads.
type adminStatus struct {
	Version int    `json:"version"`
	Node    string `json:"node"`
	Groups  []struct {
		Name         string   `json:"name"`
		Owner        string   `json:"owner"`
		State        string   `json:"state"`
		VIPs         []string `json:"vips"`
		LastTakeover *struct {
			PeerLastHeard   time.Time `json:"peer_last_heard"`
			Started         time.Time `json:"started"`
			Running         time.Time `json:"running"`
			FirstARP        time.Time `json:"first_arp"`
			FirstConnection time.Time `json:"first_connection"`
		} `json:"last_takeover"`
	} `json:"groups"`
}

func apiStatus(h *lab.Host) (*adminStatus, error) {
	body, err := adminGet(h, "/api/v1/status")
	if err != nil {
		return nil, err
	}
	var st adminStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("%s /api/v1/status: %v: %.300s", h.Name, err, body)
	}
	return &st, nil
}

// Issue 12: the admin listener on both nodes of a pair. /metrics before
// and after a crash failover (the new owner's takeover histogram counts one
// takeover whose phases match its status timeline), drop counters equal to
// the forged and replayed packets injected, the JSON API equal to hactl's,
// and no key material anywhere.
func TestAdminMetricsAcrossFailover(t *testing.T) {
	p := runningPair(t, pairOptions{Admin: true})
	p.waitServed(10 * time.Second)
	inject := lab.Build(t, "./test/cmd/labinject")[0]
	lb1, lb2 := p.lab.Host("lb1"), p.lab.Host("lb2")

	// Before: each node's view of the group, its peer and its links.
	var before map[string]metrics
	lab.Eventually(t, 5*time.Second, "both nodes' /metrics show the pair settled", func() error {
		before = map[string]metrics{}
		for _, h := range []*lab.Host{lb1, lb2} {
			m, err := scrape(h)
			if err != nil {
				return err
			}
			before[h.Name] = m
		}
		for node, want := range map[string]string{"lb1": "master", "lb2": "standby"} {
			m := before[node]
			if m.sum("hapair_group_state", `group="web"`, `state="`+want+`"`) != 1 {
				return fmt.Errorf("%s: hapair_group_state{state=%q} != 1", node, want)
			}
			if m.sum("hapair_group_owner", `group="web"`, `owner="lb1"`) != 1 {
				return fmt.Errorf("%s: hapair_group_owner{owner=lb1} != 1", node)
			}
			peer := map[string]string{"lb1": "lb2", "lb2": "lb1"}[node]
			if m.sum("hapair_peer_up", `peer="`+peer+`"`) != 1 {
				return fmt.Errorf("%s: hapair_peer_up{peer=%q} != 1", node, peer)
			}
			for _, link := range []string{"mcast0", "ucast0"} {
				if m.sum("hapair_heartbeats_received_total", `link="`+link+`"`, `peer="`+peer+`"`) == 0 ||
					m.sum("hapair_heartbeats_sent_total", `link="`+link+`"`, `peer="`+peer+`"`) == 0 {
					return fmt.Errorf("%s: no heartbeats sent or received on %s", node, link)
				}
			}
			if !m.has("hapair_build_info") || m.sum("hapair_real_up", `service="tcp"`) != 2 {
				return fmt.Errorf("%s: no build info, or not both reals up", node)
			}
			if m.sum("hapair_real_checks_total", `service="tcp"`, `result="ok"`) < 2 || m.sum("hapair_real_check_duration_seconds_total", `service="tcp"`) <= 0 {
				return fmt.Errorf("%s: no passed health checks or no check time counted", node)
			}
		}
		return nil
	})
	if before["lb2"].has("hapair_takeover_duration_seconds_count") {
		t.Errorf("lb2 never took the group, but /metrics has a takeover histogram")
	}
	t.Logf("before: lb1 heard %v heartbeats from lb2, lb2 heard %v from lb1",
		before["lb1"].sum("hapair_heartbeats_received_total", `peer="lb2"`), before["lb2"].sum("hapair_heartbeats_received_total", `peer="lb1"`))

	checkAPIMatchesHactl(t, p)
	checkNoKeyMaterial(t, lb1)

	// Drop counters: 20 forged packets (wrong key) and 20 replays of
	// captured heartbeats, sent on the heartbeat multicast group. Each
	// node hears all of them on mcast0: every forged one fails the MAC, and
	// every replay is either the node's own packet (self) or its peer's
	// (replay), since they are sent well after the window of a duplicate.
	const n = 20
	client := p.lab.Host("client")
	if out, err := client.RunFor(30*time.Second, inject, "-mode", "forge", "-group", "239.255.0.94:694",
		"-iface", "eth0", "-cluster", "42", "-sender", "lb2", "-count", fmt.Sprint(n)); err != nil {
		t.Fatalf("labinject forge: %v: %s", err, out)
	}
	if out, err := client.RunFor(30*time.Second, inject, "-mode", "replay", "-group", "239.255.0.94:694",
		"-iface", "eth0", "-count", fmt.Sprint(n)); err != nil {
		t.Fatalf("labinject replay: %v: %s", err, out)
	}
	for _, h := range []*lab.Host{lb1, lb2} {
		m0 := before[h.Name]
		var forged, replayed float64
		lab.Eventually(t, 5*time.Second, h.Name+" counted every injected packet", func() error {
			m, err := scrape(h)
			if err != nil {
				return err
			}
			forged = m.sum("hapair_heartbeat_drops_total", `link="mcast0"`, `reason="bad-mac"`) -
				m0.sum("hapair_heartbeat_drops_total", `link="mcast0"`, `reason="bad-mac"`)
			replayed = 0
			for _, r := range []string{"replay", "self"} {
				replayed += m.sum("hapair_heartbeat_drops_total", `link="mcast0"`, `reason="`+r+`"`) -
					m0.sum("hapair_heartbeat_drops_total", `link="mcast0"`, `reason="`+r+`"`)
			}
			if forged < n || replayed < n {
				return fmt.Errorf("bad-mac +%v, replay+self +%v", forged, replayed)
			}
			return nil
		})
		if forged != n || replayed != n {
			t.Errorf("%s: hapair_heartbeat_drops_total on mcast0: bad-mac +%v, replay+self +%v; want +%d each", h.Name, forged, replayed, n)
		}
		t.Logf("%s: /metrics counted %v forged (bad-mac) and %v replayed (replay+self) packets of %d each injected", h.Name, forged, replayed, n)
	}

	// Crash failover: lb2's histogram counts one takeover, matching its
	// status timeline.
	p.crashOwner("lb1")
	p.waitHolds("lb2", 5*time.Second)
	p.waitServed(5 * time.Second) // the first client connection after the takeover
	var st *adminStatus
	var after metrics
	lab.Eventually(t, 5*time.Second, "lb2's timeline has its first gratuitous ARP and /metrics its takeover", func() error {
		var err error
		if st, err = apiStatus(lb2); err != nil {
			return err
		}
		if len(st.Groups) != 1 || st.Groups[0].LastTakeover == nil || st.Groups[0].LastTakeover.FirstARP.IsZero() ||
			st.Groups[0].LastTakeover.FirstConnection.IsZero() {
			return fmt.Errorf("lb2 status groups: %+v", st.Groups)
		}
		if after, err = scrape(lb2); err != nil {
			return err
		}
		if !after.has("hapair_takeover_duration_seconds_count", `phase="first_connection"`) {
			return fmt.Errorf("no first_connection phase in lb2's histogram yet")
		}
		// The probes after the takeover went through lb2's balancer (bytes
		// are counted as each connection's directions end).
		if after.sum("hapair_real_connections_total", `service="tcp"`) == 0 || after.sum("hapair_service_bytes_total", `service="tcp"`, `direction="out"`) == 0 {
			return fmt.Errorf("real_connections_total %v, service_bytes_total{out} %v; want both > 0",
				after.sum("hapair_real_connections_total", `service="tcp"`), after.sum("hapair_service_bytes_total", `service="tcp"`, `direction="out"`))
		}
		return nil
	})
	tl := st.Groups[0].LastTakeover
	phases := map[string]time.Duration{
		"detection":        tl.Started.Sub(tl.PeerLastHeard),
		"vip_bound":        tl.Running.Sub(tl.Started),
		"first_garp":       tl.FirstARP.Sub(tl.Started),
		"first_connection": tl.FirstConnection.Sub(tl.Started),
	}
	for phase, want := range phases {
		lbl := []string{`group="web"`, `kind="takeover"`, `phase="` + phase + `"`}
		count := after.sum("hapair_takeover_duration_seconds_count", lbl...)
		sum := after.sum("hapair_takeover_duration_seconds_sum", lbl...)
		if count != 1 {
			t.Errorf("lb2 hapair_takeover_duration_seconds_count{phase=%q} = %v, want 1", phase, count)
		}
		if d := math.Abs(sum - want.Seconds()); d > 0.010 {
			t.Errorf("lb2 takeover phase %s: histogram sum %.4fs, status timeline %.4fs: differ by %.4fs > 10ms", phase, sum, want.Seconds(), d)
		}
		t.Logf("lb2 takeover phase %-16s histogram %.1f ms, status timeline %.1f ms", phase, sum*1000, float64(want.Microseconds())/1000)
	}
	if got := after.sum("hapair_peer_deaths_total"); got != 1 {
		t.Errorf("lb2 hapair_peer_deaths_total = %v, want 1 (lb1 crashed once)", got)
	}
	if got := after.sum("hapair_takeover_duration_seconds_count", `kind="switchover"`); got != 0 {
		t.Errorf("lb2 counted %v switchovers, want 0 (lb1 crashed)", got)
	}
	if after.sum("hapair_peer_up", `peer="lb1"`) != 0 || after.sum("hapair_group_state", `group="web"`, `state="master"`) != 1 {
		t.Errorf("lb2 after the crash: peer_up{lb1} = %v, group_state{master} = %v; want 0 and 1",
			after.sum("hapair_peer_up", `peer="lb1"`), after.sum("hapair_group_state", `state="master"`))
	}
	checkNoKeyMaterial(t, lb2)

	// lb1 comes back (auto_failback off): a fresh process that removed its
	// stale VIP, sees lb2 own the group, and has taken nothing.
	p.lab.Plug("lb1")
	p.start("lb1")
	lab.Eventually(t, 5*time.Second, "lb1's /metrics show lb2 owning the group", func() error {
		m, err := scrape(lb1)
		if err != nil {
			return err
		}
		if m.sum("hapair_peer_up", `peer="lb2"`) != 1 || m.sum("hapair_group_owner", `group="web"`, `owner="lb2"`) != 1 ||
			m.sum("hapair_group_state", `group="web"`, `state="standby"`) != 1 {
			return fmt.Errorf("peer_up{lb2} %v, owner{lb2} %v, state{standby} %v", m.sum("hapair_peer_up", `peer="lb2"`),
				m.sum("hapair_group_owner", `owner="lb2"`), m.sum("hapair_group_state", `state="standby"`))
		}
		if m.has("hapair_takeover_duration_seconds_count") {
			return fmt.Errorf("lb1 took nothing since its restart, but has a takeover histogram")
		}
		return nil
	})
}

// checkAPIMatchesHactl compares /api/v1/status and /api/v1/services with
// `hactl status -o json` and `hactl services -o json` on lb1: one schema.
func checkAPIMatchesHactl(t *testing.T, p *pair) {
	t.Helper()
	h := p.lab.Host("lb1")
	lab.Eventually(t, 5*time.Second, "/api/v1/services equals hactl services -o json", func() error {
		api, err := adminGet(h, "/api/v1/services")
		if err != nil {
			return err
		}
		cli, err := h.Hactl(p.bins, "services", "-o", "json")
		if err != nil {
			return fmt.Errorf("hactl services: %v: %s", err, cli)
		}
		var a, c any
		if err := json.Unmarshal(api, &a); err != nil {
			return err
		}
		if err := json.Unmarshal(cli, &c); err != nil {
			return err
		}
		if !reflect.DeepEqual(a, c) {
			return fmt.Errorf("differ:\napi   %s\nhactl %s", api, cli)
		}
		return nil
	})
	api, err := adminGet(h, "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := h.Hactl(p.bins, "status", "-o", "json")
	if err != nil {
		t.Fatalf("hactl status: %v: %s", err, cli)
	}
	// Counters and last-heard times move between the two reads; the
	// documents must have the same fields and the same version.
	var a, c map[string]any
	if err := json.Unmarshal(api, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cli, &c); err != nil {
		t.Fatal(err)
	}
	if keys(a) != keys(c) || a["version"] != float64(1) || c["version"] != float64(1) {
		t.Errorf("/api/v1/status fields %s version %v, hactl status -o json fields %s version %v; want the same, version 1",
			keys(a), a["version"], keys(c), c["version"])
	}
	var st adminStatus
	if err := json.Unmarshal(api, &st); err != nil || len(st.Groups) != 1 || st.Groups[0].VIPs[0] != "198.18.0.100/24" {
		t.Errorf("/api/v1/status groups = %+v, want web with VIP 198.18.0.100/24", st.Groups)
	}
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return fmt.Sprint(sortStrings(ks))
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// checkNoKeyMaterial fetches everything the admin listener serves and
// looks for the authkeys secret and the key lines.
func checkNoKeyMaterial(t *testing.T, h *lab.Host) {
	t.Helper()
	secret := strings.Fields(strings.Split(scenario.Authkeys, "\n")[1])[2]
	for _, path := range []string{"/", "/metrics", "/api/v1/status", "/api/v1/services"} {
		body, err := adminGet(h, path)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{secret, "sha256 ", "authkeys"} {
			if bytes.Contains(body, []byte(bad)) {
				t.Errorf("%s %s contains %q", h.Name, path, bad)
			}
		}
	}
}
