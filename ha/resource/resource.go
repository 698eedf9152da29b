package resource

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Resource is one haresources entry: a VIP, a script, the balancer...
// Start and Stop must be idempotent: Start on a running resource and Stop on
// a stopped one succeed (LSB init-script semantics), because a group is
// stopped in full after a failed start and on nodes that never started it.
type Resource interface {
	Name() string // for logs and errors, e.g. "vip 198.18.0.100/24 dev eth0"
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Status(ctx context.Context) error // nil = running
}

// Announcer is implemented by resources that can announce themselves again,
// like a VIP re-sending gratuitous ARP when a rival owner is heard.
type Announcer interface {
	Announce()
}

// StaleRemover is implemented by resources that can remove what an earlier
// owner left behind without a full stop, like a VIP still bound on a node
// that does not own its group (a stale VIP answers ARP and splits the
// traffic). It reports whether anything was removed.
type StaleRemover interface {
	RemoveStale(ctx context.Context) (bool, error)
}

// Default per-resource timeouts, Pacemaker's default operation timeout.
const (
	DefaultStartTimeout = 20 * time.Second
	DefaultStopTimeout  = 20 * time.Second
)

// Timeouts bound each resource's Start and Stop call. Zero fields take the
// defaults above; a negative field means no limit beyond the caller's ctx.
type Timeouts struct {
	Start time.Duration // per resource Start (default 20s)
	Stop  time.Duration // per resource Stop (default 20s)
}

func (t Timeouts) withDefaults() Timeouts {
	t.Start = cmp.Or(t.Start, DefaultStartTimeout)
	t.Stop = cmp.Or(t.Stop, DefaultStopTimeout)
	return t
}

// Group is one resource group. Start, Stop, Status and Announce are safe for
// concurrent use; Start and Stop are serialized so a stop never interleaves
// with a start of the same group.
type Group struct {
	name     string
	rs       []Resource
	timeouts Timeouts

	mu sync.Mutex // serializes Start and Stop
}

// NewGroup returns the group name running rs in order.
func NewGroup(name string, rs []Resource, timeouts Timeouts) *Group {
	return &Group{name: name, rs: append([]Resource(nil), rs...), timeouts: timeouts.withDefaults()}
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// Resources returns the names of the group's resources in start order.
func (g *Group) Resources() []string {
	names := make([]string, len(g.rs))
	for i, r := range g.rs {
		names[i] = r.Name()
	}
	return names
}

// Start starts every resource in order. When one fails (or times out), it
// and the resources started before it are stopped in reverse order, and the
// returned *Error names the group, the resource and the cause.
func (g *Group) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, r := range g.rs {
		err := call(ctx, g.timeouts.Start, r.Start)
		if err == nil {
			continue
		}
		e := &Error{Group: g.name, Op: "start", Resource: r.Name(), Err: err, RolledBack: i}
		// The failed resource may have done part of its work (an address
		// added, a daemon forked before the script failed): stop it too.
		// Rollback runs even when ctx was cancelled (that may be why the
		// start failed): a half-started group must not stay half-held.
		rctx := context.WithoutCancel(ctx)
		for j := i; j >= 0; j-- {
			if serr := call(rctx, g.timeouts.Stop, g.rs[j].Stop); serr != nil {
				e.RollbackErrs = append(e.RollbackErrs, &Error{Group: g.name, Op: "stop", Resource: g.rs[j].Name(), Err: serr})
			}
		}
		return e
	}
	return nil
}

// Stop stops every resource in reverse order. A resource that fails to stop
// does not keep the others running: all are stopped, and every failure is
// reported.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var errs []error
	for i := len(g.rs) - 1; i >= 0; i-- {
		r := g.rs[i]
		if err := call(ctx, g.timeouts.Stop, r.Stop); err != nil {
			errs = append(errs, &Error{Group: g.name, Op: "stop", Resource: r.Name(), Err: err})
		}
	}
	return joinErrors(g.name, "stop", errs)
}

// Status checks every resource and reports the ones that are not running.
// It uses the Start timeout per resource.
func (g *Group) Status(ctx context.Context) error {
	var errs []error
	for _, r := range g.rs {
		if err := call(ctx, g.timeouts.Start, r.Status); err != nil {
			errs = append(errs, &Error{Group: g.name, Op: "status", Resource: r.Name(), Err: err})
		}
	}
	return joinErrors(g.name, "status", errs)
}

// Announce asks every resource that implements Announcer to announce itself
// again (gratuitous ARP after a rival owner was heard). It does not block on
// the network: announcers only schedule their sends.
func (g *Group) Announce() {
	for _, r := range g.rs {
		if a, ok := r.(Announcer); ok {
			a.Announce()
		}
	}
}

// RemoveStale calls RemoveStale on every resource that implements
// StaleRemover, for a group this node does not own, and returns the names
// of the resources that had leftovers removed. Other resources are not
// touched: stopping a script on a node that never started it could stop a
// service shared by both nodes.
func (g *Group) RemoveStale(ctx context.Context) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var removed []string
	var errs []error
	for _, r := range g.rs {
		sr, ok := r.(StaleRemover)
		if !ok {
			continue
		}
		var did bool
		err := call(ctx, g.timeouts.Stop, func(ctx context.Context) error {
			var err error
			did, err = sr.RemoveStale(ctx)
			return err
		})
		switch {
		case err != nil:
			errs = append(errs, &Error{Group: g.name, Op: "remove stale", Resource: r.Name(), Err: err})
		case did:
			removed = append(removed, r.Name())
		}
	}
	return removed, joinErrors(g.name, "remove stale", errs)
}

// call runs fn under a timeout. A resource that ignores its context does not
// hang the group: call returns when the deadline passes and leaves fn to
// finish on its own goroutine (its result is then discarded).
func call(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(cctx) }()
	select {
	case err := <-done:
		if err != nil && cctx.Err() != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return err
	case <-cctx.Done():
		if ctx.Err() == nil {
			return fmt.Errorf("timed out after %v: %w", timeout, context.DeadlineExceeded)
		}
		return cctx.Err()
	}
}

// Error is a failed operation on one resource of a group.
type Error struct {
	Group    string
	Op       string // "start", "stop" or "status"
	Resource string // the resource's Name()
	Err      error  // the cause

	// RolledBack counts the resources that had started before a failed
	// start and were stopped again; RollbackErrs holds their stop failures
	// (and the failed resource's own cleanup failure, if any).
	RolledBack   int
	RollbackErrs []error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group %s: %s %s: %v", e.Group, e.Op, e.Resource, e.Err)
	if e.Op == "start" {
		fmt.Fprintf(&b, ": rolled back %d resource%s", e.RolledBack, plural(e.RolledBack))
		for _, re := range e.RollbackErrs {
			fmt.Fprintf(&b, "; rollback: %s", brief(re))
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// multiError joins several resource failures of one group on one line.
type multiError struct {
	group, op string
	errs      []error
}

func (m *multiError) Error() string {
	var b strings.Builder
	if m.op == "status" {
		fmt.Fprintf(&b, "group %s: %d resources not running", m.group, len(m.errs))
	} else {
		fmt.Fprintf(&b, "group %s: %d resources failed to %s", m.group, len(m.errs), m.op)
	}
	for _, err := range m.errs {
		fmt.Fprintf(&b, "; %s", brief(err))
	}
	return b.String()
}

// brief is err without its group, for a line that names the group once:
// "OP RESOURCE: ERR" for an *Error.
func brief(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return fmt.Sprintf("%s %s: %v", e.Op, e.Resource, e.Err)
	}
	return err.Error()
}

func (m *multiError) Unwrap() []error { return m.errs }

func joinErrors(group, op string, errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return &multiError{group: group, op: op, errs: errs}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
