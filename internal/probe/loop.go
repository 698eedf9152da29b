package probe

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/hapair/hapair/internal/clock"
)

// Loop runs a probe every Interval until its context ends. Runs start at a
// fixed rate (a run that takes longer than the interval is followed by the
// next at once, never overlapped), each period moved by up to ±Jitter of the
// interval so probes started together drift apart.
type Loop struct {
	Interval time.Duration // between run starts; must be positive
	Jitter   float64       // fraction of Interval, 0 to 0.5 (0: none)
	Clock    clock.Clock   // default clock.Real{}
	Rand     *rand.Rand    // jitter source (default seeded from the clock); not shared
}

// Run calls run at once and then every period until ctx ends, and returns
// after the last call has returned. run gets ctx and should return by its
// own timeout.
func (l Loop) Run(ctx context.Context, run func(ctx context.Context)) {
	if l.Interval <= 0 {
		panic("probe: Loop.Interval must be positive") // a caller's bug, as for time.NewTicker
	}
	clk := clock.Or(l.Clock)
	if l.Rand == nil {
		seed := uint64(clk.Now().UnixNano())
		l.Rand = rand.New(rand.NewPCG(seed, seed>>32|1))
	}
	t := clk.NewTimer(time.Hour)
	defer t.Stop()
	for {
		start := clk.Now()
		run(ctx)
		if ctx.Err() != nil {
			return
		}
		t.Reset(max(l.period()-clk.Since(start), 0))
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (l Loop) period() time.Duration {
	if l.Jitter <= 0 {
		return l.Interval
	}
	j := (l.Rand.Float64()*2 - 1) * min(l.Jitter, 0.5) * float64(l.Interval)
	return l.Interval + time.Duration(j)
}
