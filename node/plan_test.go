package node

import (
	"os"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config"
)

// parseExample loads deploy/web-pair.toml with edits applied, each an
// old/new pair replaced once (the edit must apply).
func parseExample(t *testing.T, edits ...string) *config.Config {
	t.Helper()
	data, err := os.ReadFile("../deploy/web-pair.toml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(edits); i += 2 {
		next := strings.Replace(s, edits[i], edits[i+1], 1)
		if next == s {
			t.Fatalf("edit %q does not apply to deploy/web-pair.toml", edits[i])
		}
		s = next
	}
	cfg, err := config.Parse([]byte(s), "web-pair.toml", configOptions(nil, nil))
	if err != nil {
		t.Fatalf("parsing edited example: %v", err)
	}
	return cfg
}

// TestPlanReload checks what a reload applies live (lines, rebuilt groups)
// and what it refuses, with the sentence the operator reads.
func TestPlanReload(t *testing.T) {
	base := parseExample(t)
	tests := []struct {
		name        string
		edits       []string
		wantLines   []string
		wantRestart string
		wantGroup   bool // the group's resources changed
	}{
		{name: "unchanged"},
		{
			name:      "real re-weighted",
			edits:     []string{`{ address = "198.18.1.12:80", weight = 2 }`, `{ address = "198.18.1.12:80", weight = 5 }`},
			wantLines: []string{"service http: real 198.18.1.12:80 weight 2 -> 5"},
		},
		{
			name:      "real added",
			edits:     []string{`{ address = "198.18.1.12:80", weight = 2 }`, `{ address = "198.18.1.12:80", weight = 2 }, { address = "198.18.1.13:80" }`},
			wantLines: []string{"service http: real + 198.18.1.13:80 weight 1"},
		},
		{
			name:      "vip moved",
			edits:     []string{`address = "198.18.0.100/24", interface = "eth0"`, `address = "198.18.0.100/24", interface = "eth0" }, { kind = "vip", address = "198.18.0.101/24", interface = "eth0"`},
			wantLines: []string{"group web: resources changed (restarted where held)", "  vip + 198.18.0.101/24"},
			wantGroup: true,
		},
		// Every service setting a reload applies is a line: with none,
		// the reload applied nothing and said "no changes".
		{
			name:      "maxconn and request_timeout",
			edits:     []string{`persistent = "300s"`, "persistent = \"300s\"\nmaxconn = 100\nrequest_timeout = \"5s\""},
			wantLines: []string{"service http: request_timeout 10s -> 5s", "service http: maxconn 0 -> 100"},
		},
		{
			name:      "max_flows",
			edits:     []string{`idle_timeout = "60s"`, "idle_timeout = \"60s\"\nmax_flows = 100"},
			wantLines: []string{"service sip: max_flows 16384 -> 100"},
		},
		{
			name:      "check setting",
			edits:     []string{`receive = "SpringRing"`, `receive = "Ring"`},
			wantLines: []string{`service http: check.receive "SpringRing" -> "Ring"`},
		},
		{
			name:      "a real's own request and receive",
			edits:     []string{`{ address = "198.18.1.11:80", weight = 1 }`, `{ address = "198.18.1.11:80", weight = 1, request = "/health", receive = "OK" }`},
			wantLines: []string{`service http: real 198.18.1.11:80 request "" -> "/health"`, `service http: real 198.18.1.11:80 receive "" -> "OK"`},
		},
		{
			name:        "timing needs a restart",
			edits:       []string{`keepalive = "100ms"`, `keepalive = "200ms"`},
			wantRestart: "reload refused, nothing changed: cluster.keepalive changed from 100ms to 200ms, which needs a restart of had (the heartbeat timing is fixed at start)",
		},
		{
			name:  "preferred node needs a restart",
			edits: []string{`preferred = "lb1"`, `preferred = "lb2"`},
			wantRestart: `reload refused, nothing changed: group web: preferred changed from ["lb1"] to ["lb2"], which needs a restart of had (a group's ownership rules are fixed at start); ` +
				`group web: priorities changed from { lb1 = 200, lb2 = 100 } to { lb1 = 100, lb2 = 200 }, which needs a restart of had (a group's ownership rules are fixed at start)`,
		},
		{
			name:        "admin listener needs a restart",
			edits:       []string{`listen = "127.0.0.1:9694"`, `listen = "127.0.0.1:9695"`},
			wantRestart: "reload refused, nothing changed: admin changed from listen 127.0.0.1:9694 to listen 127.0.0.1:9695, which needs a restart of had (the admin listener is bound at start)",
		},
		{
			name:        "nodes and authkeys",
			edits:       []string{`authkeys = "/etc/hapair/authkeys"`, `authkeys = "/etc/hapair/authkeys.new"`},
			wantRestart: `reload refused, nothing changed: cluster.authkeys changed from "/etc/hapair/authkeys" to "/etc/hapair/authkeys.new", which needs a restart of had (the authkeys file is read at start)`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := parseExample(t, tc.edits...)
			p := planReload(base, next)
			got := strings.Join(p.lines, "\n")
			for _, w := range tc.wantLines {
				if !strings.Contains(got, w) {
					t.Errorf("plan lines = %q, want %q", p.lines, w)
				}
			}
			if len(tc.wantLines) == 0 && len(p.lines) != 0 {
				t.Errorf("plan lines = %q, want none", p.lines)
			}
			switch {
			case tc.wantRestart == "" && len(p.restart) > 0:
				t.Errorf("plan refuses: %v, want it applied live", p.refusal())
			case tc.wantRestart != "" && (len(p.restart) == 0 || p.refusal().Error() != tc.wantRestart):
				t.Errorf("refusal = %v,\nwant %s", p.restart, tc.wantRestart)
			}
			if p.changedGroups["web"] != tc.wantGroup {
				t.Errorf("group web changed = %v, want %v", p.changedGroups["web"], tc.wantGroup)
			}
		})
	}
}
