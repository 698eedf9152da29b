package e2e

import (
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab/probe"
)

// Test 5: auto_failback=false keeps the group on the survivor when the
// preferred node returns; true moves it back after the hold time.
func TestFailback(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failback bool
	}{{"off", false}, {"on", true}} {
		t.Run(tc.name, func(t *testing.T) {
			hold := scenario.FailbackHold
			p := runningPair(t, pairOptions{AutoFailback: tc.failback, FailbackHold: hold, Initdead: deadtime})
			p.crashOwner("lb1")
			p.waitHolds("lb2", 5*time.Second)

			// lb1 comes back: plugged in, had restarted. It finds its stale
			// VIP from before the crash and must remove it.
			p.lab.Plug("lb1")
			// The client probes across lb1's return and the failback.
			pr := p.lab.StartProbe(p.bins, "client", vipTCP.String(), probe.Options{Proto: "tcp", Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond, Count: 400})
			back := time.Now()
			p.start("lb1")
			if !tc.failback {
				// Twice the hold time: by then a failback would have happened.
				p.waitOwner("lb2", 5*time.Second)
				p.keepsVIP("lb2", 2*hold, "auto_failback=false, after lb1 returned")
				return
			}
			p.waitOwner("lb1", 10*time.Second)
			since := time.Since(back)
			t.Logf("auto_failback=true: lb1 took its group back %v after returning (hold %v)", since.Round(time.Millisecond), hold)
			if since < hold {
				t.Errorf("failback after %v, before the hold time %v", since, hold)
			}
			// The new owner starts while the old one stops: a failback costs
			// no more than a planned switchover (Heartbeat 3 loses ~15 s).
			res, _ := pr.Result(30 * time.Second)
			if res == nil {
				t.Fatal("probe gave no result")
			}
			t.Logf("client across the failback: %s", res.Summary())
			if limit := 5 * keepalive; res.Longest >= limit {
				t.Errorf("client outage during failback = %v, want < 5×keepalive = %v", res.Longest, limit)
			}
		})
	}
}
