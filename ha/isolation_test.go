package ha_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

// TestIsolation drives one machine alone (its peer never heard) through
// initdead and a set of check results, and reports whether it holds the
// group and why not.
func TestIsolation(t *testing.T) {
	type result struct {
		check string
		ok    bool
	}
	tests := []struct {
		name    string
		checks  []ha.CheckConfig
		results []result
		wantOwn bool
		wantWhy string // substring of Status().Isolated, "" = not isolated
	}{
		{"no checks", nil, nil, true, ""},
		{"ping not probed yet counts as reachable", []ha.CheckConfig{{Name: "ping a", Weight: 50, Ping: true}}, nil, true, ""},
		{"ping answers", []ha.CheckConfig{{Name: "ping a", Weight: 50, Ping: true}}, []result{{"ping a", true}}, true, ""},
		{"track checks never isolate", []ha.CheckConfig{{Name: "track x", Weight: 250}},
			[]result{{"track x", false}}, true, ""},
		{"one of two pings failed", []ha.CheckConfig{{Name: "ping a", Weight: 50, Ping: true}, {Name: "ping b", Weight: 50, Ping: true}},
			[]result{{"ping b", true}, {"ping a", false}}, true, ""},
		{"one failed, one never probed", []ha.CheckConfig{{Name: "ping a", Weight: 50, Ping: true}, {Name: "ping b", Weight: 50, Ping: true}},
			[]result{{"ping a", false}}, true, ""},
		{"every ping failed", []ha.CheckConfig{{Name: "ping a", Weight: 50, Ping: true}, {Name: "ping b", Weight: 50, Ping: true}},
			[]result{{"ping a", false}, {"ping b", false}}, false,
			"isolated: no peer heard and every ping node unreachable (ping a: down; ping b: down)"},
		{"every ping failed, track ok", []ha.CheckConfig{{Name: "ping a", Weight: 50, Ping: true}, {Name: "track x", Weight: 10}},
			[]result{{"ping a", false}}, false, "(ping a: down)"},
		{"every ping failed, then one answers", []ha.CheckConfig{{Name: "ping a", Weight: 50, Ping: true}},
			[]result{{"ping a", false}, {"ping a", true}}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ha.New(ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Initdead: time.Second,
				Groups: []ha.GroupConfig{{Name: "web"}}, Checks: tt.checks})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			m.Step(ha.Event{Kind: ha.EventStart, Now: now})
			m.Step(ha.Event{Kind: ha.EventTick, Now: now.Add(2 * time.Second)})
			m.Step(ha.Event{Kind: ha.EventStarted, Now: now.Add(2 * time.Second), Group: "web", OK: true})
			for _, r := range tt.results {
				m.Step(ha.Event{Kind: ha.EventCheck, Now: now.Add(3 * time.Second), Check: r.check, OK: r.ok, Reason: "down"})
			}
			m.Step(ha.Event{Kind: ha.EventStopped, Now: now.Add(4 * time.Second), Group: "web", OK: true})
			if got := m.State("web").Owns(); got != tt.wantOwn {
				t.Errorf("State(web) = %v, owns %v, want owns %v", m.State("web"), got, tt.wantOwn)
			}
			st := m.Status()
			if tt.wantWhy == "" && st.Isolated != "" || !strings.Contains(st.Isolated, tt.wantWhy) {
				t.Errorf("Status().Isolated = %q, want it to contain %q", st.Isolated, tt.wantWhy)
			}
			if !tt.wantOwn && st.Groups[0].Priority != 0 {
				t.Errorf("isolated: Status().Groups[0].Priority = %d, want 0", st.Groups[0].Priority)
			}
		})
	}
}

// TestGroupFailbackIsCopied checks that New copies the per-group
// auto_failback override: editing the caller's value later changes nothing.
func TestGroupFailbackIsCopied(t *testing.T) {
	fb := true
	m, err := ha.New(ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Groups: []ha.GroupConfig{{Name: "web", AutoFailback: &fb}}})
	if err != nil {
		t.Fatal(err)
	}
	fb = false
	if got := m.Config().Groups[0].AutoFailback; got == nil || !*got {
		t.Errorf("Config().Groups[0].AutoFailback after the caller's edit = %v, want true", got)
	}
}
