package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// One-way loss (issue 15): lb1's heartbeats stop reaching lb2 on both
// links while lb2's still reach lb1. lb2 takes the VIP after deadtime; lb1
// learns from lb2's heartbeats that lb2 does not hear it and releases, so
// one node holds the VIP within deadtime + two keepalives and for as long
// as the loss lasts, and lb1's status names the one-way link. Before the
// heard list, both held the VIP for as long as the loss lasted.
func TestOneWayLoss(t *testing.T) {
	p := runningPair(t, pairOptions{})

	p.lab.MuteHeartbeats("lb1")
	muted := time.Now()
	// Polling ip and hactl in namespaces costs tens of ms per round.
	took := p.waitOwner("lb2", deadtime+2*keepalive+2*time.Second)
	t.Logf("one owner (lb2) %v after the one-way loss began (deadtime %v + 2×keepalive %v, polling included)",
		time.Since(muted).Round(time.Millisecond), deadtime, 2*keepalive)
	if limit := deadtime + 2*keepalive + 300*time.Millisecond; took > limit {
		t.Errorf("two holders or none for %v after the one-way loss began, want one owner within %v", took, limit)
	}
	// For as long as it lasts: one holder, sampled for 3 s.
	p.keepsVIP("lb2", 3*time.Second, "during the one-way loss")
	out, err := p.lab.Host("lb1").Hactl(p.bins, "status")
	if err != nil || !strings.Contains(string(out), "ONE-WAY LOSS: lb2 has not heard us for") {
		t.Errorf("lb1 hactl status does not name the one-way link: %v\n%s", err, out)
	}

	p.lab.Heal()
	lab.Eventually(t, 5*time.Second, "lb1 is heard again and lb2 keeps the VIP (auto_failback off)", func() error {
		out, err := p.lab.Host("lb1").Hactl(p.bins, "status")
		if err != nil {
			return err
		}
		if strings.Contains(string(out), "ONE-WAY") {
			return fmt.Errorf("lb1 status still reports one-way loss:\n%s", out)
		}
		if hs := p.holders(); len(hs) != 1 || hs[0] != "lb2" {
			return fmt.Errorf("VIP held by %v", hs)
		}
		return nil
	})
}
