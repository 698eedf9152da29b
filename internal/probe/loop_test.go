package probe

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

func TestLoopRunsAtFixedRate(t *testing.T) {
	clk := clocktest.New(time.Time{})
	var runs atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop{Interval: time.Second, Clock: clk}.Run(ctx, func(context.Context) {
			clk.Advance(300 * time.Millisecond) // the run takes 300ms of the interval
			runs.Add(1)
		})
	}()
	for i := int64(1); i <= 3; i++ {
		testkit.WaitFor(t, "a run", func() bool { return runs.Load() == i })
		clk.Advance(699 * time.Millisecond)
		if n := runs.Load(); n != i {
			t.Fatalf("run %d started less than 1s after run %d", n, i)
		}
		clk.Advance(time.Millisecond)
	}
	testkit.WaitFor(t, "run 4", func() bool { return runs.Load() == 4 })
	cancel()
	<-done
}

func TestLoopJitterStaysInBounds(t *testing.T) {
	l := Loop{Interval: time.Second, Jitter: 0.1, Rand: rand.New(rand.NewPCG(1, 2))}
	seen := map[bool]bool{}
	for range 1000 {
		p := l.period()
		if p < 900*time.Millisecond || p > 1100*time.Millisecond {
			t.Fatalf("period() = %v, want 1s ±10%%", p)
		}
		seen[p > time.Second] = true
	}
	if len(seen) != 2 {
		t.Errorf("1000 periods all on one side of 1s, want jitter both ways")
	}
}

func TestLoopStopsOnCancel(t *testing.T) {
	clk := clocktest.New(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop{Interval: time.Hour, Clock: clk}.Run(ctx, func(context.Context) {})
	}()
	testkit.WaitFor(t, "the loop to wait", func() bool { return clk.Waiting() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(testkit.WaitTimeout):
		t.Fatal("Run did not return after cancel")
	}
}
