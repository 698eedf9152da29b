package main

import (
	"math"
	"testing"
	"time"
)

func smp(rate float64, p99 time.Duration, rss int64) sample {
	return sample{rate: rate, ops: int64(rate), p99: p99, wall: time.Second, proxyCPU: time.Duration(rate) * 10 * time.Microsecond, rss: rss}
}

// TestPairedRatios: one slow round of the other target must not decide
// the ratio (it does when the two medians are compared), and each ratio
// is hapair's over the other's of the same round.
func TestPairedRatios(t *testing.T) {
	h := []sample{smp(100, 4*time.Millisecond, 10), smp(50, 8*time.Millisecond, 12), smp(100, 4*time.Millisecond, 11)}
	o := []sample{smp(100, 5*time.Millisecond, 20), smp(50, 8*time.Millisecond, 20), smp(40, 10*time.Millisecond, 30)}
	r := pairedRatios(h, o)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// Per round: 1, 1, 2.5 (median 1); medians alone would give 100/50 = 2.
	near("rate.mid", r.rate.mid, 1)
	near("rate.lo", r.rate.lo, 1)
	near("rate.hi", r.rate.hi, 2.5)
	// p99 per round: 0.8, 1, 0.4.
	near("p99.mid", r.p99.mid, 0.8)
	near("p99.lo", r.p99.lo, 0.4)
	near("cpuPerOp.mid", r.cpuPerOp.mid, 1)
	near("rss", r.rss, 12.0/30)
	if got := r.rate.span(); got != "1.00–2.50" {
		t.Errorf("span = %q", got)
	}
}

// TestPairedRatiosUneven: rounds only one target has, and zero
// denominators, are left out rather than divided by.
func TestPairedRatiosUneven(t *testing.T) {
	h := []sample{smp(100, time.Millisecond, 1), smp(90, time.Millisecond, 1), smp(80, time.Millisecond, 1)}
	o := []sample{{}, smp(90, 2*time.Millisecond, 2)}
	r := pairedRatios(h, o)
	if r.rate.mid != 1 || r.rate.lo != 1 || r.rate.hi != 1 {
		t.Errorf("rate = %+v, want only round 2 (1.0)", r.rate)
	}
	if r.p99.mid != 0.5 {
		t.Errorf("p99 = %+v, want 0.5", r.p99)
	}
	if z := pairedRatios(h, nil); z.rate.span() != "-" || z.rssRatio() != "-" {
		t.Errorf("no other samples: %+v", z)
	}
}
