package chaos

import (
	"math"
	"testing"
	"time"
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
