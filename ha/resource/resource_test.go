package resource_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/ha/resource/resourcetest"
	"github.com/hapair/hapair/internal/testkit"
)

var (
	_ resource.Resource     = (*resourcetest.Fake)(nil)
	_ resource.Announcer    = (*resourcetest.Fake)(nil)
	_ resource.StaleRemover = (*resourcetest.Fake)(nil)
)

var errBoom = errors.New("boom")

// fakes builds resources a, b, c... sharing one trace; mod adjusts them.
func fakes(tr *resourcetest.Trace, n int, mod func(i int, f *resourcetest.Fake)) []resource.Resource {
	rs := make([]resource.Resource, n)
	for i := range n {
		f := &resourcetest.Fake{ResName: string(rune('a' + i)), Trace: tr}
		if mod != nil {
			mod(i, f)
		}
		rs[i] = f
	}
	return rs
}

// at returns a table's mod that changes the fake of index n only.
func at(n int, set func(*resourcetest.Fake)) func(int, *resourcetest.Fake) {
	return func(i int, f *resourcetest.Fake) {
		if i == n {
			set(f)
		}
	}
}

func TestGroup(t *testing.T) {
	short := resource.Timeouts{Start: 20 * time.Millisecond, Stop: 20 * time.Millisecond}
	tests := []struct {
		name     string
		n        int
		mod      func(i int, f *resourcetest.Fake)
		timeouts resource.Timeouts
		op       string   // "start" or "stop"
		trace    string   // whole trace
		errSubs  []string // error must contain each; none = must succeed
		isErr    error    // errors.Is target, if any
	}{
		{
			name: "start in order", n: 3, op: "start",
			trace: "start a\nstart b\nstart c",
		},
		{
			name: "stop in reverse", n: 3, op: "stop",
			trace: "stop c\nstop b\nstop a",
		},
		{
			name: "failure in the middle rolls back in reverse", n: 4, op: "start",
			mod:     at(2, func(f *resourcetest.Fake) { f.StartErr = errBoom }),
			trace:   "start a\nstart b\nstart c\nstop c\nstop b\nstop a",
			errSubs: []string{"group web: start c: boom: rolled back 2 resources"},
			isErr:   errBoom,
		},
		{
			name: "first resource fails: nothing to roll back but itself", n: 2, op: "start",
			mod:     at(0, func(f *resourcetest.Fake) { f.StartErr = errBoom }),
			trace:   "start a\nstop a",
			errSubs: []string{"group web: start a: boom: rolled back 0 resources"},
		},
		{
			name: "rollback stop failure is reported", n: 3, op: "start",
			mod: func(i int, f *resourcetest.Fake) {
				switch i {
				case 0:
					f.StopErr = errors.New("busy")
				case 1:
					f.StartErr = errBoom
				}
			},
			trace:   "start a\nstart b\nstop b\nstop a",
			errSubs: []string{"group web: start b: boom: rolled back 1 resource; rollback: stop a: busy"},
		},
		{
			name: "stop failures reported, all still stopped", n: 3, op: "stop",
			mod: func(i int, f *resourcetest.Fake) {
				if i != 1 {
					f.StopErr = errors.New("stuck " + f.ResName)
				}
			},
			trace:   "stop c\nstop b\nstop a",
			errSubs: []string{"group web: 2 resources failed to stop; stop c: stuck c; stop a: stuck a"},
		},
		{
			name: "one stop failure", n: 2, op: "stop",
			mod:     at(0, func(f *resourcetest.Fake) { f.StopErr = errBoom }),
			trace:   "stop b\nstop a",
			errSubs: []string{"group web: stop a: boom"},
			isErr:   errBoom,
		},
		{
			name: "start timeout rolls back", n: 3, op: "start", timeouts: short,
			mod:     at(1, func(f *resourcetest.Fake) { f.BlockStart = true }),
			trace:   "start a\nstart b\nstop b\nstop a",
			errSubs: []string{"group web: start b: timed out after 20ms", "rolled back 1 resource"},
			isErr:   context.DeadlineExceeded,
		},
		{
			name: "resource ignoring its context does not hang the group", n: 2, op: "start", timeouts: short,
			mod: func(i int, f *resourcetest.Fake) {
				if i == 1 {
					f.BlockStart, f.IgnoreCtx, f.Release = true, true, make(chan struct{})
					t.Cleanup(func() { close(f.Release) })
				}
			},
			trace:   "start a\nstart b\nstop b\nstop a",
			errSubs: []string{"group web: start b: timed out after 20ms: context deadline exceeded: rolled back 1 resource"},
			isErr:   context.DeadlineExceeded,
		},
		{
			name: "stop timeout, others still stopped", n: 3, op: "stop", timeouts: short,
			mod:     at(1, func(f *resourcetest.Fake) { f.BlockStop = true }),
			trace:   "stop c\nstop b\nstop a",
			errSubs: []string{"group web: stop b: timed out after 20ms"},
			isErr:   context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &resourcetest.Trace{}
			g := resource.NewGroup("web", fakes(tr, tt.n, tt.mod), tt.timeouts)
			var err error
			if tt.op == "start" {
				err = g.Start(context.Background())
			} else {
				err = g.Stop(context.Background())
			}
			if got := tr.String(); got != tt.trace {
				t.Errorf("%s trace:\n%s\nwant:\n%s", tt.op, got, tt.trace)
			}
			if len(tt.errSubs) == 0 {
				if err != nil {
					t.Fatalf("Group.%s() = %v, want nil", tt.op, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Group.%s() = nil, want error containing %q", tt.op, tt.errSubs)
			}
			for _, sub := range tt.errSubs {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("Group.%s() = %q, want it to contain %q", tt.op, err, sub)
				}
			}
			if tt.isErr != nil && !errors.Is(err, tt.isErr) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.isErr)
			}
		})
	}
}

func TestGroupStartErrorFields(t *testing.T) {
	tr := &resourcetest.Trace{}
	g := resource.NewGroup("web", fakes(tr, 2, func(i int, f *resourcetest.Fake) {
		if i == 1 {
			f.ResName = "vip 198.18.0.100/24"
			f.StartErr = errBoom
		}
	}), resource.Timeouts{})
	err := g.Start(context.Background())
	var e *resource.Error
	if !errors.As(err, &e) {
		t.Fatalf("Start() = %v, want *resource.Error", err)
	}
	if e.Group != "web" || e.Op != "start" || e.Resource != "vip 198.18.0.100/24" || e.RolledBack != 1 {
		t.Errorf("Start() error = %+v, want group web, op start, resource vip 198.18.0.100/24, rolled back 1", e)
	}
	want := "group web: start vip 198.18.0.100/24: boom: rolled back 1 resource"
	if err.Error() != want {
		t.Errorf("Start() = %q, want %q", err, want)
	}
}

func TestGroupRollbackDespiteCancelledContext(t *testing.T) {
	tr := &resourcetest.Trace{}
	ctx, cancel := context.WithCancel(context.Background())
	g := resource.NewGroup("web", fakes(tr, 2, func(i int, f *resourcetest.Fake) {
		if i == 1 {
			f.BlockStart = true // returns when ctx is cancelled
		}
	}), resource.Timeouts{})
	go func() {
		// Cancel once b has begun to start.
		testkit.Poll(func() bool { return strings.Contains(tr.String(), "start b") })
		cancel() // also after a timeout: Start then fails the test below
	}()
	err := g.Start(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Start() = %v, want context.Canceled", err)
	}
	if got, want := tr.String(), "start a\nstart b\nstop b\nstop a"; got != want {
		t.Errorf("trace:\n%s\nwant:\n%s", got, want)
	}
}

func TestGroupStatusAndAnnounce(t *testing.T) {
	tr := &resourcetest.Trace{}
	rs := fakes(tr, 2, nil)
	g := resource.NewGroup("web", rs, resource.Timeouts{})
	if err := g.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "group web: 2 resources not running; status a: stopped; status b: stopped") {
		t.Errorf("Status() before start = %v, want both stopped", err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := g.Status(context.Background()); err != nil {
		t.Errorf("Status() after start = %v, want nil", err)
	}
	tr.Reset()
	g.Announce()
	if got, want := tr.String(), "announce a\nannounce b"; got != want {
		t.Errorf("Announce() trace = %q, want %q", got, want)
	}
	if got, want := strings.Join(g.Resources(), ","), "a,b"; got != want {
		t.Errorf("Resources() = %q, want %q", got, want)
	}
}

func TestGroupRemoveStale(t *testing.T) {
	tr := &resourcetest.Trace{}
	rs := fakes(tr, 3, func(i int, f *resourcetest.Fake) { f.Stale = i == 1 })
	g := resource.NewGroup("web", rs, resource.Timeouts{})
	removed, err := g.RemoveStale(context.Background())
	if err != nil || strings.Join(removed, ",") != "b" {
		t.Errorf("RemoveStale() = %q, %v; want [b], nil", removed, err)
	}
	if got, want := tr.String(), "remove stale a\nremove stale b\nremove stale c"; got != want {
		t.Errorf("trace = %q, want %q", got, want)
	}
	removed, err = g.RemoveStale(context.Background())
	if err != nil || len(removed) != 0 {
		t.Errorf("second RemoveStale() = %q, %v; want none", removed, err)
	}
}
