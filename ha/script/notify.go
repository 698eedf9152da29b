package script

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/runner"
)

// Notifier defaults.
const (
	DefaultNotifyTimeout = 10 * time.Second
	DefaultNotifyWorkers = 4
	DefaultNotifyQueue   = 16
)

// NotifySpec describes a notify hook.
type NotifySpec struct {
	// Program runs on every transition as
	// `Program Args... GROUP <group> <state>` (keepalived's notify
	// arguments) with HAPAIR_GROUP, HAPAIR_STATE, HAPAIR_NODE and
	// HAPAIR_REASON in its environment.
	Program string
	Args    []string
	Node    string        // this node's name, for HAPAIR_NODE
	Timeout time.Duration // per run (default DefaultNotifyTimeout)
	// Workers bounds hooks running at once across groups (default 4).
	Workers int
	// Queue bounds the transitions waiting per group (default 16); when
	// full the oldest waiting one is dropped and logged, since a hook far
	// behind the present is worth less than the latest state.
	Queue  int
	Logger *slog.Logger // default: discard
}

// Notifier runs the hook asynchronously: Notify never waits for a hook.
// Hooks for one group run one at a time in order; different groups run in
// parallel up to Workers.
type Notifier struct {
	spec NotifySpec
	sem  chan struct{}

	mu      sync.Mutex
	queues  map[string]*groupQueue
	closed  bool
	dropped uint64
	wg      sync.WaitGroup
}

type notifyEvent struct{ group, state, reason string }

type groupQueue struct {
	events  []notifyEvent
	running bool
}

// NewNotifier checks that the hook exists and is executable.
func NewNotifier(spec NotifySpec) (*Notifier, error) {
	if err := CheckProgram(spec.Program); err != nil {
		return nil, fmt.Errorf("script: notify: program: %w", err)
	}
	path, err := Resolve(spec.Program, nil)
	if err != nil {
		return nil, fmt.Errorf("script: notify: %w", err)
	}
	spec.Program = path
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultNotifyTimeout
	}
	if spec.Workers <= 0 {
		spec.Workers = DefaultNotifyWorkers
	}
	if spec.Queue <= 0 {
		spec.Queue = DefaultNotifyQueue
	}
	if spec.Logger == nil {
		spec.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{spec: spec, sem: make(chan struct{}, spec.Workers), queues: map[string]*groupQueue{}}, nil
}

// Notify queues one transition and returns at once.
func (n *Notifier) Notify(group, state, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	q := n.queues[group]
	if q == nil {
		q = &groupQueue{}
		n.queues[group] = q
	}
	if len(q.events) >= n.spec.Queue {
		old := q.events[0]
		q.events = q.events[1:]
		n.dropped++
		n.spec.Logger.Warn("notify hook queue full, dropping oldest transition", "group", group, "state", old.state, "reason", old.reason)
	}
	q.events = append(q.events, notifyEvent{group, state, reason})
	if !q.running {
		q.running = true
		n.wg.Add(1)
		go n.drain(q)
	}
}

// Dropped returns how many transitions were dropped from full queues.
func (n *Notifier) Dropped() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped
}

func (n *Notifier) drain(q *groupQueue) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(q.events) == 0 {
			q.running = false
			n.mu.Unlock()
			return
		}
		ev := q.events[0]
		q.events = q.events[1:]
		n.mu.Unlock()

		n.sem <- struct{}{}
		n.run(ev)
		<-n.sem
	}
}

func (n *Notifier) run(ev notifyEvent) {
	args := append(append([]string(nil), n.spec.Args...), "GROUP", ev.group, ev.state)
	res, err := runner.Run(context.Background(), runner.Command{
		Path:    n.spec.Program,
		Args:    args,
		Timeout: n.spec.Timeout,
		Env: []string{
			"HAPAIR_GROUP=" + ev.group,
			"HAPAIR_STATE=" + ev.state,
			"HAPAIR_NODE=" + n.spec.Node,
			"HAPAIR_REASON=" + ev.reason,
		},
	})
	switch {
	case err != nil:
		n.spec.Logger.Warn("notify hook failed", "group", ev.group, "state", ev.state, "err", err)
	case res.ExitCode != 0:
		n.spec.Logger.Warn("notify hook failed", "group", ev.group, "state", ev.state,
			"err", fmt.Sprintf("exit status %d%s", res.ExitCode, runner.QuoteOutput(res.Output)))
	}
}

// Close stops accepting transitions and waits for queued hooks until ctx
// ends. Hooks still running then finish on their own timeouts.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("script: notify: waiting for hooks: %w", ctx.Err())
	}
}
