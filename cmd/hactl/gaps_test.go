package main

import "testing"

// TestCheckConfigOneErrorPerCause runs configs where one bad value used to
// bring further errors derived from it (a timer computed from a keepalive
// out of range, references to a node or service whose name is bad): each
// must fail with exit status 1 and only the root error.
func TestCheckConfigOneErrorPerCause(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"keepalive too long, deadtime set", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"1000h\"\ndeadtime = \"2s\"\n"), []string{
			`FILE:4:13: cluster.keepalive: 1000h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries (ha/wire)`,
		}},
		{"keepalive too long, warntime set", edit(caseBase, "id = 7\n", "id = 7\nkeepalive = \"1000h\"\nwarntime = \"2s\"\n"), []string{
			`FILE:4:13: cluster.keepalive: 1000h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries (ha/wire)`,
		}},
		// Only warntime is written: the error is its own, not the
		// default deadtime's at [cluster].
		{"warntime beyond the default deadtime", edit(caseBase, "id = 7\n", "id = 7\nwarntime = \"1000h\"\n"), []string{
			`FILE:4:12: cluster.warntime: 1000h0m0s must be shorter than deadtime 400ms (unset: 4×keepalive)`,
		}},
		{"bad node name, peers name the old one", edit(caseBase, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb 2"]`), []string{
			`FILE:4:17: cluster.nodes[1]: "lb 2": want 1..64 characters of A-Z a-z 0-9 . _ -`,
		}},
		{"node listed twice, peers name the other", edit(caseBase, `nodes = ["lb1", "lb2"]`, `nodes = ["lb1", "lb1"]`), []string{
			`FILE:4:17: cluster.nodes[1]: node "lb1" is listed again (first at FILE:4:10)`,
		}},
		{"bad service name, the balancer names the old one", edit(caseBase, `name = "http"`, `name = "ht tp"`), []string{
			`FILE:20:8: service[0].name: "ht tp": want 1..64 characters of A-Z a-z 0-9 . _ -`,
		}},
	})
}
