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
	cfg, err := config.Parse([]byte(s), "web-pair.toml")
	if err != nil {
		t.Fatalf("parsing edited example: %v", err)
	}
	return cfg
}

func TestDiffConfigs(t *testing.T) {
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
		{
			name:        "timing needs a restart",
			edits:       []string{`keepalive = "100ms"`, `keepalive = "50ms"`},
			wantRestart: "[cluster]",
		},
		{
			name:        "preferred node needs a restart",
			edits:       []string{`preferred = "lb1"`, `preferred = "lb2"`},
			wantRestart: "group web",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := parseExample(t, tc.edits...)
			lines, restart, changed := diffConfigs(base, next)
			got := strings.Join(lines, "\n")
			for _, w := range tc.wantLines {
				if !strings.Contains(got, w) {
					t.Errorf("diff lines = %q, want %q", lines, w)
				}
			}
			if len(tc.wantLines) == 0 && len(lines) != 0 {
				t.Errorf("diff lines = %q, want none", lines)
			}
			if r := strings.Join(restart, ";"); (tc.wantRestart == "") != (r == "") || !strings.Contains(r, tc.wantRestart) {
				t.Errorf("restart reasons = %q, want %q", restart, tc.wantRestart)
			}
			if changed["web"] != tc.wantGroup {
				t.Errorf("group web changed = %v, want %v", changed["web"], tc.wantGroup)
			}
		})
	}
}
