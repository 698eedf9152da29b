package connlimit

import (
	"testing"

	"github.com/hapair/hapair/internal/testkit"
)

// TestGateWaitsAtLimit: at the limit Acquire waits, a Release lets one
// waiter in, and closing done ends the wait holding nothing.
func TestGateWaitsAtLimit(t *testing.T) {
	svc, global := New(2), New(3)
	g := NewGate(svc, global)
	other := NewGate(New(0), global)
	for range 2 {
		if !g.Acquire(nil) {
			t.Fatal("Acquire below the limit = false")
		}
	}
	got := make(chan bool, 1)
	go func() { got <- g.Acquire(nil) }()
	testkit.WaitFor(t, "a waiter at the service limit", func() bool { return svc.Stats().Waits == 1 })
	if !other.Acquire(nil) { // the global limit still has room for another service
		t.Fatal("another service's Acquire under the global limit = false")
	}
	g.Release()
	if !<-got {
		t.Fatal("waiter not admitted after Release")
	}
	if st := global.Stats(); st.InUse != 3 || st.Max != 3 {
		t.Errorf("global Stats() = %+v, want 3 in use of 3", st)
	}
	done := make(chan struct{})
	waits := global.Stats().Waits
	go func() { got <- other.Acquire(done) }()
	testkit.WaitFor(t, "a waiter at the global limit", func() bool { return global.Stats().Waits == waits+1 })
	close(done)
	if <-got {
		t.Fatal("Acquire with done closed = true")
	}
	if st := global.Stats(); st.InUse != 3 {
		t.Errorf("after a canceled Acquire global in use = %d, want 3 (nothing held)", st.InUse)
	}
	svc.SetMax(0) // no service limit: only the global one counts
	if st := svc.Stats(); st.Max != 0 {
		t.Errorf("Stats().Max after SetMax(0) = %d, want 0", st.Max)
	}
}

// TestReleaseWithoutWaiterAllocatesNothing: an accept and a close with
// nobody waiting at the limit make no wake-up channel (a connection used to
// cost two, one per limit of its gate).
func TestReleaseWithoutWaiterAllocatesNothing(t *testing.T) {
	g := NewGate(New(10), New(100))
	allocs := testing.AllocsPerRun(100, func() {
		if !g.Acquire(nil) {
			t.Fatal("Acquire below the limit = false")
		}
		g.Release()
	})
	if allocs != 0 {
		t.Errorf("Acquire and Release with no waiter: %.1f allocations, want 0", allocs)
	}
}

// TestWaiterGivenUpStopsWakeups: a waiter that gives up (done) is no longer
// counted, so later releases make no channel, and one still waiting is
// woken.
func TestWaiterGivenUpStopsWakeups(t *testing.T) {
	l := New(1)
	g := NewGate(l)
	if !g.Acquire(nil) {
		t.Fatal("first Acquire = false")
	}
	done := make(chan struct{})
	gaveUp := make(chan bool, 1)
	go func() { gaveUp <- g.Acquire(done) }()
	testkit.WaitFor(t, "a waiter at the limit", func() bool { return l.Stats().Waits == 1 })
	close(done)
	if <-gaveUp {
		t.Fatal("Acquire after done closed = true")
	}
	l.mu.Lock()
	waiting := l.waiting
	l.mu.Unlock()
	if waiting != 0 {
		t.Fatalf("waiting = %d after the waiter gave up, want 0", waiting)
	}
	got := make(chan bool, 1)
	go func() { got <- g.Acquire(nil) }()
	testkit.WaitFor(t, "a second waiter", func() bool { return l.Stats().Waits == 2 })
	g.Release()
	if !<-got {
		t.Fatal("second waiter not admitted after Release")
	}
}

func TestDefaultMaxBelowDescriptorLimit(t *testing.T) {
	if got, want := Reserve(300), 75; got != want {
		t.Errorf("Reserve(300) = %d, want %d", got, want)
	}
	for _, tt := range []struct {
		nofile uint64
		want   int
	}{
		{1024, 384},      // systemd's soft default: 256 kept back, 768 / 2
		{65536, 32256},   // reserve capped at 1024
		{524288, 261632}, // systemd's hard default
		{4, 1},           // never 0: 0 means no limit
		{^uint64(0), 0},  // RLIM_INFINITY: no limit
	} {
		if got := maxFor(tt.nofile); got != tt.want {
			t.Errorf("maxFor(%d) = %d, want %d", tt.nofile, got, tt.want)
		}
	}
	if m := DefaultMax(); m < 0 {
		t.Errorf("DefaultMax() = %d, want >= 0", m)
	}
}

// TestTryAcquire: TryAcquire takes a slot in each limit while both have
// room; when the second is full it holds nothing (the first's slot given
// back) and counts no wait.
func TestTryAcquire(t *testing.T) {
	svc, all := New(2), New(1)
	g := NewGate(svc, all)
	if !g.TryAcquire() {
		t.Fatal("TryAcquire with room in both limits failed")
	}
	if g.TryAcquire() {
		t.Fatal("TryAcquire with the second limit full succeeded")
	}
	if s, a := svc.Stats(), all.Stats(); s.InUse != 1 || a.InUse != 1 || s.Waits != 0 || a.Waits != 0 {
		t.Fatalf("after a failed TryAcquire: service %+v, balancer %+v, want 1 in use each and no waits", s, a)
	}
	g.Release()
	if !g.TryAcquire() {
		t.Fatal("TryAcquire after Release failed")
	}
	if (*Gate)(nil).TryAcquire() != true {
		t.Fatal("a nil Gate refused")
	}
}
