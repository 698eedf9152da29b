package chaos

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab/probe"
)

// TestLossModel checks the expected figures the loss soak prints beside
// its counts (no root, no lab: it runs in `make unit`).
func TestLossModel(t *testing.T) {
	ms := time.Millisecond
	near := func(got, want float64) bool { return math.Abs(got-want) <= 1e-3*want }
	for _, tc := range []struct {
		name          string
		m             lossModel
		dead, warn    int
		deaths, lates float64
	}{
		// 6000 heartbeats, runs of 3 lost: 6000 × 0.95 × 0.05³; of 2: × 0.05².
		{"k100 1 link", lossModel{keepalive: 100 * ms, deadtime: 400 * ms, loss: 5, links: 1, d: 10 * time.Minute}, 3, 2, 0.7125, 2 * 14.25},
		{"k50 1 link", lossModel{keepalive: 50 * ms, deadtime: 200 * ms, loss: 5, links: 1, d: 10 * time.Minute}, 3, 2, 1.425, 2 * 28.5},
		// both links lose the same heartbeat: q = 0.0025.
		{"k100 2 links", lossModel{keepalive: 100 * ms, deadtime: 400 * ms, loss: 5, links: 2, d: 10 * time.Minute}, 3, 2, 6000 * 0.9975 * 1.5625e-8, 2 * 6000 * 0.9975 * 6.25e-6},
		// a deadtime between beats needs the heartbeat past it lost too.
		{"k100 d450", lossModel{keepalive: 100 * ms, deadtime: 450 * ms, warntime: 250 * ms, loss: 5, links: 1, d: 10 * time.Minute}, 4, 2, 6000 * 0.95 * 6.25e-6, 2 * 14.25},
		// keepalived's backup at priority 100: 300ms + 156/256 × 100ms.
		{"keepalived", lossModel{keepalive: 100 * ms, deadtime: masterDown(100*ms, 100), warntime: 250 * ms, loss: 5, links: 1, d: 10 * time.Minute}, 3, 2, 0.7125, 2 * 14.25},
	} {
		if got := tc.m.lostToSilence(tc.m.deadtime); got != tc.dead {
			t.Errorf("%s: lost to dead = %d, want %d", tc.name, got, tc.dead)
		}
		if got := tc.m.deaths(); !near(got, tc.deaths) {
			t.Errorf("%s: deaths = %g, want %g", tc.name, got, tc.deaths)
		}
		if got := tc.m.lates(); !near(got, tc.lates) {
			t.Errorf("%s: lates = %g, want %g", tc.name, got, tc.lates)
		}
	}
	if got := masterDown(100*ms, 100); got != 360937500*time.Nanosecond {
		t.Errorf("masterDown(100ms, 100) = %v, want 360.9375ms", got)
	}
	for _, tc := range []struct {
		lambda float64
		n      int
		want   float64
	}{{0.7125, 0, 1}, {0.7125, 1, 1 - math.Exp(-0.7125)}, {0.7125, 4, 0.006116}, {2, 2, 1 - 3*math.Exp(-2)}} {
		if got := poissonTail(tc.lambda, tc.n); math.Abs(got-tc.want) > 1e-4 {
			t.Errorf("poissonTail(%g, %d) = %g, want %g", tc.lambda, tc.n, got, tc.want)
		}
	}
	k100 := lossModel{keepalive: 100 * ms, deadtime: 400 * ms, loss: 5, links: 1, d: 10 * time.Minute}
	if k100.excess(4) || !k100.excess(6) {
		t.Errorf("excess at 0.71 expected: 4 → %v, 6 → %v; want false, true", k100.excess(4), k100.excess(6))
	}
}

// TestClassifyOutages: an outage of the VIP is the host's when the canary
// saw a stall, the backends' when every backend probed straight failed too
// (or the one it went to, for a single failure), and hapair's otherwise; a
// failure the prober's own stall decided is no outage.
func TestClassifyOutages(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	// pattern: one char per attempt every 10ms: '.' ok, 'x' failed after
	// the 100ms timeout, 's' failed 840ms late (the prober stalled).
	result := func(pattern string) *probe.Result {
		r := &probe.Result{}
		for i, c := range pattern {
			a := probe.Attempt{Seq: i, Start: t0.Add(time.Duration(i) * 10 * ms), Took: ms, OK: c == '.'}
			switch c {
			case 'x':
				a.Took, a.Err = probeTimeout, "i/o timeout"
			case 's':
				a.Took, a.Err, a.Stalled = 840*ms, "i/o timeout", true
			}
			r.Attempts = append(r.Attempts, a)
		}
		return r
	}
	//                      0    5    10   15   20   25   30   35   40   45   50   55
	vip := result( /*     */ "..xxxxx.......x.......xxxxxxxx....s.........xxxxx.........")
	b1 := result( /*      */ "..xxxxx.......x.......xxxxx...............................")
	b2 := result( /*      */ "..xxxxx...................................................")
	gaps := [][2]time.Time{{t0.Add(450 * ms), t0.Add(480 * ms)}}
	so := classifyOutages(vip, []*probe.Result{b1, b2}, gaps)
	var got []string
	for i, o := range so.outs {
		got = append(got, fmt.Sprintf("%d/%d:%s", o.Start.Sub(t0)/ms, o.Failed, so.why[i]))
	}
	// 20: both backends down; 140: one failure, its backend down; 220: a
	// run with backend2 fine (hapair's); 440: during the host stall. The
	// stalled attempt at 340 is no outage.
	want := "20/5:backends too 140/1:backends too 220/8: 440/5:host stall"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("classifyOutages = %q, want %q", g, want)
	}
	if so.unexplained != 80*ms || so.longest != 80*ms {
		t.Errorf("unexplained %v, longest %v; want 80ms (220..300), 80ms", so.unexplained, so.longest)
	}
	if so.failed != 19 || so.failedHere != 8 {
		t.Errorf("failed %d, of them unexplained %d; want 19 (5+1+8+5), 8", so.failed, so.failedHere)
	}
	// Without controls no outage is the backends': the crash loop's,
	// churn's and the flood's probes have none.
	bare := classifyOutages(vip, nil, gaps)
	if bare.unexplained != 80*ms || bare.failedHere != 14 || bare.why[0] != "" || bare.why[3] != "host stall" {
		t.Errorf("without controls: unexplained %v, failed %d, why %q; want 80ms (220..300), 14, hapair's but the host stall", bare.unexplained, bare.failedHere, bare.why)
	}
}
