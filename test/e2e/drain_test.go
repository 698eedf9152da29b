package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// `hactl standby --drain` under a bounded load loop: the owner quiesces
// the HTTP service (keep-alive ends), waits until no request is in flight,
// then moves the group; the client, a fresh connection every 10 ms, sees
// no failed request, and the VIP is on lb2 afterwards.
func TestStandbyDrain(t *testing.T) {
	p := balancerPair(t, 2, httpService(""), []string{"http"}, vipHTTP, "http")
	// The operator drains toward a peer whose reals pass their checks: a
	// peer still checking would answer 503 (gating on the peer's readiness
	// is the failback side of issue 11, not the drain's).
	lab.Eventually(t, 5*time.Second, "lb2's reals healthy", func() error {
		svcs, err := p.services("lb2")
		if err != nil {
			return err
		}
		for _, r := range svcs["http"].Reals {
			if !r.Healthy {
				return fmt.Errorf("real %s not healthy: %s", r.Address, r.Reason)
			}
		}
		return nil
	})

	pr := p.lab.StartProbe(p.bins, "client", vipHTTP.String(), probe.Options{Proto: "http", Interval: 10 * time.Millisecond, Timeout: 500 * time.Millisecond, Count: 300})
	start := time.Now()
	out, err := p.lab.Host("lb1").Hactl(p.bins, "standby", "--drain", "web", "--timeout", "10s")
	took := time.Since(start)
	t.Logf("hactl standby --drain web (%v):\n%s", took.Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("hactl standby --drain web: %v: %s", err, out)
	}
	for _, want := range []string{"draining [web] (services [http])", "ready to move", "released to the peer"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("standby --drain output lacks %q", want)
		}
	}
	if strings.Contains(string(out), "moving anyway") {
		t.Errorf("the drain timed out instead of finishing")
	}
	p.waitOwner("lb2", 5*time.Second)

	res, err := pr.Result(30 * time.Second)
	if res == nil {
		t.Fatalf("probe gave no result: %v", err)
	}
	t.Logf("client across the drain and move: %s", res.Summary())
	if res.Failed > 0 {
		t.Errorf("%d of %d requests failed across standby --drain, want 0 (%v)", res.Failed, res.Sent, err)
	}

	// A drain of a group this node does not hold is refused with the reason.
	out, err = p.lab.Host("lb1").Hactl(p.bins, "standby", "--drain", "web")
	if err == nil || !strings.Contains(err.Error()+string(out), `group "web" is not held here`) {
		t.Errorf("standby --drain of a group lb1 does not hold = %v: %s; want refused, naming why", err, out)
	}
}
