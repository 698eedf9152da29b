package check

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

// fakeChecker fails while fail is set, counts checks and the most that ran
// at once, and can block until released.
type fakeChecker struct {
	fail     atomic.Bool
	block    chan struct{} // nil: return at once
	calls    atomic.Int64
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

func (f *fakeChecker) Check(ctx context.Context, target netip.AddrPort) error {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.fail.Load() {
		return fmt.Errorf("connect %v: connection refused", target)
	}
	return nil
}

type change struct {
	id      string
	healthy bool
	reason  string
}

// proberHarness is a Prober on a fake clock with its health changes.
type proberHarness struct {
	*Prober
	clk     *clocktest.Clock
	changes chan change
}

func newTestProber(t *testing.T, maxInFlight int) *proberHarness {
	t.Helper()
	h := &proberHarness{clk: clocktest.New(time.Time{}), changes: make(chan change, 64)}
	h.Prober = NewProber(ProberConfig{
		MaxInFlight: maxInFlight,
		Rand:        rand.New(rand.NewPCG(3, 4)),
		Clock:       h.clk,
		OnChange:    func(id string, ok bool, r string) { h.changes <- change{id, ok, r} },
	})
	t.Cleanup(h.Stop)
	return h
}

// await advances the clock a millisecond at a time until a health change
// arrives.
func (h *proberHarness) await(t *testing.T) change {
	t.Helper()
	return testkit.Receive(t, h.clk, time.Millisecond, "a health change", h.changes)
}

var target1 = netip.MustParseAddrPort("127.0.0.1:9")

// healthyWeb1 returns a prober (4 checks in flight) with one job, "web 1"
// checking target1 with c every 5ms with the given rise and fall, once
// its first change came: healthy after the first pass (StartDown, the
// default). It returns the job too, for a test to Add it again changed.
func healthyWeb1(t *testing.T, c Checker, rise, fall int) (*proberHarness, Job) {
	t.Helper()
	h := newTestProber(t, 4)
	j := Job{ID: "web 1", Target: target1, Checker: c, Spec: Spec{Interval: 5 * time.Millisecond, Rise: rise, Fall: fall}}
	if err := h.Add(j); err != nil {
		t.Fatal(err)
	}
	if c := h.await(t); c != (change{j.ID, true, ""}) {
		t.Fatalf("first change = %+v, want %q healthy after the first pass", c, j.ID)
	}
	return h, j
}

func TestProberTransitions(t *testing.T) {
	f := &fakeChecker{}
	p, web1 := healthyWeb1(t, f, 2, 2)
	f.fail.Store(true)
	want := change{"web 1", false, "connect 127.0.0.1:9: connection refused"}
	if c := p.await(t); c != want {
		t.Fatalf("change after failures = %+v, want %+v", c, want)
	}
	st, ok := p.Status("web 1")
	if !ok || st.Healthy || st.Reason != want.reason || st.Checks < 3 {
		t.Errorf("Status = %+v, %v, want unhealthy with the reason after at least 3 checks", st, ok)
	}
	// One check passed, then at least Fall failed: both are counted.
	if st.Failures < 2 || st.Failures >= st.Checks {
		t.Errorf("Status = %+v, want at least 2 failures among more checks", st)
	}
	// A reload with the same target keeps the state; a different one resets it.
	web1.Spec.Fall = 5
	p.Add(web1)
	if st, _ := p.Status("web 1"); st.Healthy || st.Checks == 0 {
		t.Errorf("Status after same-target update = %+v, want health and counts kept", st)
	}
	f.fail.Store(false)
	if c := p.await(t); !c.healthy {
		t.Fatalf("change after recovery = %+v, want healthy", c)
	}
	web1.Target = netip.MustParseAddrPort("127.0.0.1:10")
	p.Add(web1)
	// A new target's first check runs at once, so Status may already show
	// it (CI saw Checks 1, healthy); the old tracker had at least 2
	// failures among 3 or more checks, so a fresh one shows no failure and
	// at most that one check.
	st, _ = p.Status("web 1")
	if st.Failures != 0 || st.Checks > 1 || (st.Checks == 0 && (st.Healthy || st.Reason != "not checked yet")) {
		t.Errorf("Status after new target = %+v, want a fresh tracker (no failure, at most its first check)", st)
	}
	p.Remove("web 1")
	if _, ok := p.Status("web 1"); ok {
		t.Errorf("Status after Remove found the job")
	}
}

func TestProberRemoveStopsChecks(t *testing.T) {
	p := newTestProber(t, 4)
	f := &fakeChecker{}
	p.Add(Job{ID: "a", Target: target1, Checker: f, Spec: Spec{Interval: 2 * time.Millisecond, Rise: 1, Fall: 1}})
	p.await(t)
	p.Remove("a")
	// Any check in flight at Remove may still finish; after that, none is
	// scheduled, so no amount of time starts one.
	testkit.WaitFor(t, "the check in flight to finish", func() bool { return f.inFlight.Load() == 0 })
	n := f.calls.Load()
	for range 25 {
		p.clk.Advance(2 * time.Millisecond)
	}
	p.mu.Lock()
	due := p.due.Len()
	p.mu.Unlock()
	if got := f.calls.Load(); got != n || due != 0 {
		t.Errorf("after Remove and 25 intervals: %d more checks, %d scheduled, want 0 and 0", got-n, due)
	}
}

func TestProberBoundedConcurrency(t *testing.T) {
	p := newTestProber(t, 3)
	f := &fakeChecker{block: make(chan struct{})}
	for i := range 20 {
		p.Add(Job{ID: fmt.Sprint(i), Target: target1, Checker: f, Spec: Spec{Interval: time.Millisecond}})
	}
	// Wait until the bound is reached, then let checks go through for a while.
	testkit.AdvanceUntil(t, p.clk, time.Millisecond, "3 checks in flight", func() bool { return f.inFlight.Load() >= 3 })
	for range 200 {
		select {
		case f.block <- struct{}{}:
		case <-time.After(testkit.WaitTimeout):
			t.Fatal("no check to release")
		}
		p.clk.Advance(time.Millisecond)
	}
	if m := f.maxSeen.Load(); m != 3 {
		t.Errorf("most checks at once = %d, want exactly MaxInFlight 3", m)
	}
}

func TestProberStopWaits(t *testing.T) {
	p := newTestProber(t, 4)
	ch := p.changes
	f := &fakeChecker{block: make(chan struct{})} // blocks until ctx is cancelled
	p.Add(Job{ID: "a", Target: target1, Checker: f, Spec: Spec{Interval: time.Millisecond}})
	testkit.AdvanceUntil(t, p.clk, time.Millisecond, "a check to start", func() bool { return f.inFlight.Load() > 0 })
	p.Stop()
	if n := f.inFlight.Load(); n != 0 {
		t.Errorf("checks in flight after Stop = %d, want 0 (Stop waits)", n)
	}
	select {
	case c := <-ch:
		t.Errorf("OnChange(%+v) for a check cancelled by Stop, want none", c)
	default:
	}
	if err := p.Add(Job{ID: "b", Target: target1, Checker: f}); !errors.Is(err, ErrStopped) {
		t.Errorf("Add after Stop = %v, want ErrStopped", err)
	}
}

func TestProberAddErrors(t *testing.T) {
	p := newTestProber(t, 1)
	if err := p.Add(Job{ID: "x"}); err == nil || err.Error() != `check: job "x" has no checker` {
		t.Errorf("Add(no checker) = %v, want the job named", err)
	}
	if err := p.Add(Job{ID: "y", Checker: &fakeChecker{}, Spec: Spec{Interval: -1}}); err == nil || err.Error() != `check: job "y": interval -1ns must be positive` {
		t.Errorf("Add(negative interval) = %v", err)
	}
}

// TestProberFirstCheckAtOnceThenSpread: every job's first check runs at
// once, without waiting for the clock (review 12 item 15: a real is "not
// checked yet" for milliseconds, not an interval), and the second ones are
// spread over the second half of the first interval, so jobs added
// together do not keep firing together.
func TestProberFirstCheckAtOnceThenSpread(t *testing.T) {
	var mu sync.Mutex
	checks := map[netip.AddrPort][]time.Time{}
	firsts, seconds := make(chan struct{}), make(chan struct{})
	nFirst, nSecond := 0, 0
	var clk *clocktest.Clock // set before the first check
	c := checkerFunc(func(_ context.Context, tg netip.AddrPort) error {
		mu.Lock()
		defer mu.Unlock()
		checks[tg] = append(checks[tg], clk.Now())
		switch len(checks[tg]) {
		case 1:
			if nFirst++; nFirst == 50 {
				close(firsts)
			}
		case 2:
			if nSecond++; nSecond == 50 {
				close(seconds)
			}
		}
		return nil
	})
	p := newTestProber(t, 64)
	clk = p.clk
	start := clk.Now()
	for i := range 50 {
		p.Add(Job{ID: fmt.Sprint(i), Target: netip.AddrPortFrom(target1.Addr(), uint16(i+1)), Checker: c, Spec: Spec{Interval: 400 * time.Millisecond}})
	}
	select {
	case <-firsts:
	case <-time.After(10 * time.Second):
		t.Fatal("the first checks did not all run without the clock moving")
	}
	testkit.Receive(t, clk, time.Millisecond, "every job's second check", seconds)
	mu.Lock()
	defer mu.Unlock()
	early := 0
	for tg, at := range checks {
		if !at[0].Equal(start) {
			t.Errorf("%v: first check at +%v, want at once", tg, at[0].Sub(start))
		}
		d := at[1].Sub(start)
		if d < 200*time.Millisecond-coalesce || d > 400*time.Millisecond {
			t.Errorf("%v: second check at +%v, want in the second half of the 400ms interval", tg, d)
		}
		if d < 300*time.Millisecond {
			early++
		}
	}
	// Uniform over 200..400ms: about half before 300ms.
	if early < 10 || early > 40 {
		t.Errorf("%d of 50 second checks in 200..300ms, want them spread (about 25)", early)
	}
}

type checkerFunc func(context.Context, netip.AddrPort) error

func (f checkerFunc) Check(ctx context.Context, t netip.AddrPort) error { return f(ctx, t) }

// localChecker fails with a local shortage while set.
type localChecker struct {
	fakeChecker
	local atomic.Bool
}

func (f *localChecker) Check(ctx context.Context, target netip.AddrPort) error {
	if f.local.Load() {
		f.calls.Add(1)
		return fmt.Errorf("connect %v: socket: %w", target, syscall.EMFILE)
	}
	return f.fakeChecker.Check(ctx, target)
}

// TestProberLocalErrorIsNotEvidence: checks failing with EMFILE on this
// host leave a healthy real healthy and show as a local error (issue 9:
// a local shortage must not become a global outage).
func TestProberLocalErrorIsNotEvidence(t *testing.T) {
	f := &localChecker{}
	p, _ := healthyWeb1(t, f, 1, 1)
	f.local.Store(true)
	before := f.calls.Load()
	testkit.AdvanceUntil(t, p.clk, time.Millisecond, "5 checks failing locally", func() bool { return f.calls.Load() >= before+5 })
	st, _ := p.Status("web 1")
	if !st.Healthy || st.LocalErrors < 5 || !strings.Contains(st.LocalError, "too many open files") {
		t.Errorf("Status after EMFILE checks = %+v, want healthy with the local error shown", st)
	}
	select {
	case c := <-p.changes:
		t.Errorf("health change %+v on local errors, want none", c)
	default:
	}
	f.local.Store(false)
	f.fail.Store(true) // a real failure still counts
	if c := p.await(t); c.healthy {
		t.Fatalf("change after a real failure = %+v, want down", c)
	}
	if st, _ := p.Status("web 1"); st.LocalError != "" {
		t.Errorf("LocalError after a completed check = %q, want cleared", st.LocalError)
	}
}

// TestProberRemoveDropsQueuedChanges: health changes of a removed job that
// were queued behind one being passed to OnChange are dropped, so a real
// removed and added again under its id never hears the old job's health.
func TestProberRemoveDropsQueuedChanges(t *testing.T) {
	clk := clocktest.New(time.Time{})
	got, release := make(chan change, 8), make(chan struct{})
	p := NewProber(ProberConfig{Clock: clk, Rand: rand.New(rand.NewPCG(3, 4)), OnChange: func(id string, ok bool, r string) {
		got <- change{id, ok, r}
		<-release
	}})
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() { releaseAll(); p.Stop() }) // a failing test must not leave OnChange held
	f := &fakeChecker{}
	if err := p.Add(Job{ID: "a", Target: target1, Checker: f, Spec: Spec{Interval: 5 * time.Millisecond, Rise: 1, Fall: 1}}); err != nil {
		t.Fatal(err)
	}
	if c := testkit.Receive(t, clk, time.Millisecond, "the first change", got); !c.healthy {
		t.Fatalf("first change = %+v, want healthy", c)
	}
	// OnChange is held in the first change; the next one queues behind it.
	p.mu.Lock()
	j := p.jobs["a"]
	p.mu.Unlock()
	f.fail.Store(true)
	testkit.AdvanceUntil(t, clk, time.Millisecond, "a second change queued", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(j.changes) > 0
	})
	p.Remove("a")
	releaseAll()
	testkit.WaitFor(t, "the notifier to end", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return !j.notifying
	})
	select {
	case c := <-got:
		t.Errorf("OnChange(%+v) after Remove, want the queued change dropped", c)
	default:
	}
}
