package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestPreference: `preferred` takes one node or an ordered list; the list
// gives descending base priorities (ha.PreferencePriority), unlisted nodes
// keep the default, and written priorities still win (in the list's order:
// TestCheckConfigReview has the ones that contradict it).
func TestPreference(t *testing.T) {
	three := strings.Replace(minimal+svc, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb2", "lb3"]`, 1)
	tests := []struct {
		desc      string
		preferred string
		extra     string
		wantList  []string
		wantPrio  map[string]uint8
	}{
		{"one name", `"lb2"`, "", []string{"lb2"}, map[string]uint8{"lb1": 100, "lb2": 200, "lb3": 100}},
		{"one-element list", `["lb2"]`, "", []string{"lb2"}, map[string]uint8{"lb1": 100, "lb2": 200, "lb3": 100}},
		{"ordered list", `["lb3", "lb1", "lb2"]`, "", []string{"lb3", "lb1", "lb2"}, map[string]uint8{"lb3": 200, "lb1": 199, "lb2": 198}},
		{"partial list", `["lb2", "lb3"]`, "", []string{"lb2", "lb3"}, map[string]uint8{"lb2": 200, "lb3": 199, "lb1": 100}},
		{"written priority wins", `["lb1", "lb2"]`, "\npriorities = { lb2 = 150, lb3 = 50 }", []string{"lb1", "lb2"}, map[string]uint8{"lb1": 200, "lb2": 150, "lb3": 50}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			in := strings.Replace(three, `preferred = "lb1"`, "preferred = "+tt.preferred+tt.extra, 1)
			cfg, err := parse([]byte(in), "t.toml")
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			g := cfg.Groups[0]
			if !slices.Equal(g.Preference, tt.wantList) || g.Preferred() != tt.wantList[0] {
				t.Errorf("Preference = %q (Preferred %q), want %q", g.Preference, g.Preferred(), tt.wantList)
			}
			if !maps.Equal(g.Priorities, tt.wantPrio) {
				t.Errorf("Priorities = %v, want %v", g.Priorities, tt.wantPrio)
			}
		})
	}
}

func TestPreferenceErrors(t *testing.T) {
	tests := []struct{ preferred, want string }{
		{`["lb1", "lb9"]`, `t.toml:13:21: group[0].preferred[1]: "lb9" is not a node in nodes ["lb1" "lb2"]`},
		{`["lb1", "lb1"]`, `t.toml:13:21: group[0].preferred[1]: node "lb1" is listed twice`},
		{`[]`, `t.toml:13:1: group[0].preferred: want a node name or a non-empty list of node names`},
		{`["lb1", 2]`, `t.toml:13:21: group[0].preferred[1]: 2 is not a node name`},
		{`7`, `t.toml:13:13: group[0].preferred: 7 is not a node name or a list of node names`},
	}
	for _, tt := range tests {
		in := strings.Replace(minimal+svc, `preferred = "lb1"`, "preferred = "+tt.preferred, 1)
		_, err := parse([]byte(in), "t.toml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(preferred = %s) error = %v, want a line %q", tt.preferred, err, tt.want)
		}
	}
}
