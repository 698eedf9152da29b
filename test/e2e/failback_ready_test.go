package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// groupReason is node's status reason for group web (what it waits for).
func (p *pair) groupReason(node string) (string, error) {
	st, err := p.status(node)
	if err != nil {
		return "", err
	}
	for _, g := range st.Groups {
		if g.Name == "web" {
			return g.Reason, nil
		}
	}
	return "", fmt.Errorf("%s status has no group web", node)
}

// returnWaits plugs lb1 back in and restarts it, waits until lb1's group
// reason says each of want (why its failback waits), and checks that lb2
// keeps the VIP past the hold time, with a second's margin. It returns
// when lb1 was started.
func (p *pair) returnWaits(hold time.Duration, want ...string) time.Time {
	p.t.Helper()
	p.lab.Plug("lb1")
	back := time.Now()
	p.start("lb1")
	lab.Eventually(p.t, 10*time.Second, "lb1 says what its failback waits for", func() error {
		r, err := p.groupReason("lb1")
		for _, w := range want {
			if err != nil || !strings.Contains(r, w) {
				return fmt.Errorf("lb1 reason %q (%v), want it to contain %q", r, err, w)
			}
		}
		return nil
	})
	p.keepsVIP("lb2", hold+time.Second-time.Since(back), "after lb1 returned, its failback waiting")
	return back
}

// Issue 11: auto_failback gated on readiness. The preferred node lb1
// returns while one of its two reals fails its checks there (lb1 is cut
// from backend2; lb2, the owner, reaches both): past the hold time it
// still waits, and status on both nodes says why; once its reals pass it
// takes the group back in a planned handover, the client's longest outage
// under 20 ms (a probe every 10 ms).
func TestFailbackWaitsForReadiness(t *testing.T) {
	hold := scenario.FailbackHold
	p := runningPair(t, pairOptions{AutoFailback: true, FailbackHold: hold, Initdead: deadtime})
	p.crashOwner("lb1")
	p.waitHolds("lb2", 5*time.Second)

	p.lab.Partition("lb1", "backend2") // lb1's checks of backend2 fail; heartbeats and backend1 flow
	const want = "failback waiting: 1 of 2 reals healthy here (owner lb2 has 2)"
	back := p.returnWaits(hold, want)
	out, err := p.lab.Host("lb1").Hactl(p.bins, "status")
	if err != nil || !strings.Contains(string(out), want) {
		t.Errorf("hactl status on lb1 (%v) does not say %q:\n%s", err, want, out)
	}
	t.Logf("lb1 waits %v after returning (hold %v): %s", time.Since(back).Round(time.Millisecond), hold, want)
	if r, err := p.groupReason("lb2"); err != nil || !strings.Contains(r, "lb1 stable but not ready to take it back") {
		t.Errorf("lb2 reason %q (%v), want it to say lb1 is not ready", r, err)
	}

	pr := p.lab.StartProbe(p.bins, "client", vipTCP.String(), probe.Options{Proto: "tcp", Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond, Count: 400})
	p.clientNeighIs("lb2", 5*time.Second)
	healed := time.Now()
	p.lab.Heal()
	p.waitOwner("lb1", 10*time.Second)
	owned := time.Now()
	t.Logf("lb1 took the group back %v after its reals could pass", owned.Sub(healed).Round(time.Millisecond))
	res, _ := pr.Result(30 * time.Second)
	if res == nil {
		t.Fatal("probe gave no result")
	}
	if n := len(res.Attempts); n == 0 || res.Attempts[0].Start.After(healed) || res.Attempts[n-1].Start.Before(owned) {
		t.Fatalf("the probe did not span the failback (%d attempts; heal at %v, lb1 owner at %v)", n, healed.Format(time.StampMilli), owned.Format(time.StampMilli))
	}
	t.Logf("client across the failback: %s", res.Summary())
	if limit := 20 * time.Millisecond; res.Longest >= limit {
		t.Errorf("client outage during failback = %v, want < %v (a planned switchover's)", res.Longest, limit)
	}
}

// Issue 11: the failback also waits for the persistence table. lb1 returns
// while the persistence sync port (heartbeat port + 1) is blocked to and
// from it: past the hold it waits, saying so; once sync flows it receives
// lb2's whole table, takes the group back, and the sticky client keeps
// its real across the crash failover and the failback.
func TestFailbackWaitsForPersistence(t *testing.T) {
	hold := scenario.FailbackHold
	p := runningPair(t, scenario.PersistentFailback)
	lab.Eventually(t, 10*time.Second, "the client is served on "+vipHTTP.String(), func() error {
		_, err := p.probe(vipHTTP, "http", 5)
		return err
	})
	first := p.stickyAcrossCrash()

	p.lab.LossMatching("lb1", 100, fmt.Sprintf("udp dport %d", lab.HeartbeatPort+1))
	back := p.returnWaits(hold, "failback waiting", "persistence table not caught up: no complete full resync from lb2")
	r, _ := p.groupReason("lb1")
	t.Logf("lb1 waits %v after returning (hold %v): %s", time.Since(back).Round(time.Millisecond), hold, r)

	p.lab.Heal()
	healed := time.Now()
	p.waitOwner("lb1", 10*time.Second)
	t.Logf("lb1 took the group back %v after sync could flow", time.Since(healed).Round(time.Millisecond))
	p.waitHTTPServed("lb1")
	if got := p.stickyBackend("after the failback"); got != first {
		t.Errorf("after the failback the client went to %s, want its real %s", got, first)
	}
}
