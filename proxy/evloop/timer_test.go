package evloop

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// TestTimerOrder: timers run on the loop in the order of their times,
// none before its time, a stopped one not at all, a reset one at its new
// time; and they keep an otherwise idle loop running until they are done.
func TestTimerOrder(t *testing.T) {
	l := pickLoop(t)
	type fired struct {
		name string
		late time.Duration // after its time; negative: early
	}
	got := make(chan fired, 10)
	start := time.Now()
	at := func(name string, d time.Duration) func() {
		return func() { got <- fired{name, time.Since(start) - d} }
	}
	onLoop(t, l, func() {
		l.After(30*time.Millisecond, at("c", 30*time.Millisecond))
		l.After(10*time.Millisecond, at("a", 10*time.Millisecond))
		l.After(20*time.Millisecond, at("b", 20*time.Millisecond))
		l.After(15*time.Millisecond, at("stopped", 15*time.Millisecond)).Stop()
		r := l.After(time.Millisecond, at("reset", time.Millisecond))
		r.Reset(40 * time.Millisecond)
	})
	for _, want := range []string{"a", "b", "c", "reset"} {
		select {
		case f := <-got:
			if f.name != want {
				t.Fatalf("timer %s ran, want %s next", f.name, want)
			}
			if f.late < 0 {
				t.Errorf("timer %s ran %v early", f.name, -f.late)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("timer %s not run within 10s", want)
		}
	}
	running := func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.running }
	testkit.WaitFor(t, "the loop goroutine to end after its timers", func() bool { return !running() })
	select {
	case f := <-got:
		t.Errorf("timer %s ran", f.name)
	default:
	}
}

// TestTimerAddedWhenDue: a timer function that adds a due timer does not
// keep its turn from ending; the new one runs in a later turn.
func TestTimerAddedWhenDue(t *testing.T) {
	l := pickLoop(t)
	done := make(chan int, 1)
	n := 0
	var again func()
	again = func() {
		n++
		if n == 100 {
			done <- n
			return
		}
		l.After(0, again)
	}
	l.Post(func() { l.After(0, again) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("100 chained timers not run within 10s")
	}
}

// TestTimerHeap: timers run in the order of their times whatever the
// order of After, Stop and Reset (the heap alone, due at once).
func TestTimerHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := &Loop{}
	var ran []int64
	var live []*Timer
	for range 2000 {
		switch k := rng.IntN(10); {
		case k < 6 || len(live) == 0:
			var tm *Timer
			tm = l.After(-time.Duration(1+rng.IntN(1e9)), func() { ran = append(ran, tm.when) })
			live = append(live, tm)
		case k < 8:
			i := rng.IntN(len(live))
			if !live[i].Stop() {
				t.Fatal("Stop of a pending timer reported false")
			}
			if live[i].Stop() {
				t.Fatal("second Stop reported true")
			}
			live = slices.Delete(live, i, i+1)
		default:
			live[rng.IntN(len(live))].Reset(-time.Duration(1 + rng.IntN(1e9)))
		}
	}
	l.runTimers()
	if len(ran) != len(live) {
		t.Fatalf("%d timers ran, want the %d pending", len(ran), len(live))
	}
	if !slices.IsSorted(ran) {
		t.Error("timers ran out of order")
	}
	if len(l.timers) != 0 {
		t.Errorf("%d timers left", len(l.timers))
	}
}

// BenchmarkTimer is the cost of a request's timeout: arming and stopping
// a timer, with 1000 others pending (the loop's heap against
// time.AfterFunc, which a Post would then have to bring to the loop).
func BenchmarkTimer(b *testing.B) {
	b.Run("loop", func(b *testing.B) {
		l := &Loop{}
		for i := range 1000 {
			l.After(time.Hour+time.Duration(i), func() {})
		}
		for b.Loop() {
			l.After(time.Minute, func() {}).Stop()
		}
	})
	b.Run("AfterFunc", func(b *testing.B) {
		for i := range 1000 {
			defer time.AfterFunc(time.Hour+time.Duration(i), func() {}).Stop()
		}
		for b.Loop() {
			time.AfterFunc(time.Minute, func() {}).Stop()
		}
	})
}
