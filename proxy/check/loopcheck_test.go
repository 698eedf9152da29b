package check

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// TestProberConnectOnLoop: connect checks run on the event loops (a check
// of a blackhole is seen in flight there) and report what
// ConnectChecker.Check would: up, "connection refused", "timeout after".
func TestProberConnectOnLoop(t *testing.T) {
	up, down, hole := rawServer(t, func(net.Conn) {}), closedPort(t), testkit.Blackhole(t)
	changes := make(chan change, 16)
	p := NewProber(ProberConfig{OnChange: func(id string, ok bool, r string) { changes <- change{id, ok, r} }})
	t.Cleanup(p.Stop)
	c := &ConnectChecker{Timeout: 300 * time.Millisecond}
	for _, j := range []Job{{ID: "up", Target: up}, {ID: "down", Target: down}, {ID: "hole", Target: hole}} {
		j.Checker, j.Spec = c, Spec{Interval: time.Second, Rise: 1, Fall: 1, Initial: StartDown}
		if j.ID != "up" {
			j.Spec.Initial = StartUp // so that a failure is a change
		}
		if err := p.Add(j); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, "the blackhole's check in flight on a loop", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for lc := range p.onLoop {
			if lc.j.ID == "hole" {
				return true
			}
		}
		return false
	})
	want := map[string]change{
		"up":   {"up", true, ""},
		"down": {"down", false, fmt.Sprintf("connect %v: connection refused", down)},
		"hole": {"hole", false, fmt.Sprintf("connect %v: timeout after 300ms", hole)},
	}
	for range want {
		select {
		case got := <-changes:
			if w := want[got.id]; got != w {
				t.Errorf("OnChange(%+v), want %+v", got, w)
			}
			delete(want, got.id)
		case <-time.After(10 * time.Second):
			t.Fatalf("no change within 10s; still waiting for %v", want)
		}
	}
}

// TestProberStopCancelsLoopChecks: Stop ends a check in flight on a loop
// at once, not after its timeout (a minute here), reports no change for
// it, and leaves no socket open.
func TestProberStopCancelsLoopChecks(t *testing.T) {
	hole := testkit.Blackhole(t)
	before := testkit.OpenFDs(t)
	changes := make(chan change, 4)
	p := NewProber(ProberConfig{OnChange: func(id string, ok bool, r string) { changes <- change{id, ok, r} }})
	c := &ConnectChecker{Timeout: time.Minute}
	if err := p.Add(Job{ID: "hole", Target: hole, Checker: c, Spec: Spec{Interval: time.Hour, Timeout: time.Minute, Initial: StartUp}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the check in flight on a loop", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.onLoop) == 1
	})
	stopped := make(chan struct{})
	go func() { p.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop still waiting after 20s for a check with a 1-minute timeout: not cancelled")
	}
	select {
	case c := <-changes:
		t.Errorf("OnChange(%+v) for a check cancelled by Stop, want none", c)
	default:
	}
	testkit.WaitFor(t, "descriptors back to their count", func() bool { return testkit.OpenFDs(t) == before })
}

// TestProberLoopChecksFreeTheirSlot: a check on a loop gives its slot of
// MaxInFlight back when it ends, so that with one slot two jobs each go on
// being checked (a slot kept would stop all checks after the first).
func TestProberLoopChecksFreeTheirSlot(t *testing.T) {
	up, down := rawServer(t, func(net.Conn) {}), closedPort(t)
	p := NewProber(ProberConfig{MaxInFlight: 1})
	t.Cleanup(p.Stop)
	c := &ConnectChecker{Timeout: time.Second}
	for _, j := range []Job{{ID: "up", Target: up}, {ID: "down", Target: down}} {
		j.Checker, j.Spec = c, Spec{Interval: 10 * time.Millisecond, Rise: 1, Fall: 1}
		if err := p.Add(j); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, "3 checks of each job through one slot", func() bool {
		a, _ := p.Status("up")
		b, _ := p.Status("down")
		return a.Checks >= 3 && b.Checks >= 3
	})
	p.mu.Lock()
	onLoop := len(p.onLoop)
	p.mu.Unlock()
	if onLoop > 1 {
		t.Errorf("%d checks on loops at once, want at most MaxInFlight 1", onLoop)
	}
}
