package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
)

// Test 8: a script resource whose start fails on lb1 rolls the group back
// there, and lb2 takes it.
func TestFailedStartRollsBack(t *testing.T) {
	p := newPair(t, pairOptions{})
	for _, n := range []string{"lb1", "lb2"} {
		h := p.lab.Host(n)
		body := "#!/bin/sh\nexit 0\n"
		if n == "lb1" {
			body = "#!/bin/sh\ncase \"$1\" in start) echo 'cannot mount /srv on lb1' >&2; exit 1;; esac\nexit 0\n"
		}
		h.WriteFile("app.sh", body, 0o755)
	}
	// Each node's config names the script in its own host directory.
	p.opts.ExtraGroup = scenario.ScriptResource
	p.start("lb1")
	p.start("lb2")
	took := p.waitOwner("lb2", 15*time.Second)
	t.Logf("lb2 owns the group %v after lb1's start failed", took.Round(time.Millisecond))
	st, err := p.status("lb1")
	if err != nil {
		t.Fatal(err)
	}
	var reason string
	for _, g := range st.Groups {
		reason = g.Reason
	}
	if !strings.Contains(reason, "cannot mount /srv on lb1") {
		t.Errorf("lb1 status reason = %q, want the script's failure", reason)
	}
	if ok, _ := p.lab.HasAddr("lb1", vip); ok {
		t.Errorf("lb1 still has the VIP after the rollback")
	}
}
