// Package resourcetest provides a trace-recording fake resource.Resource for
// tests of resource groups and of the agent that drives them. It touches
// nothing outside memory.
package resourcetest

import (
	"context"
	"strings"
	"sync"
)

// Trace records operations as text lines ("start a", "stop b"), shared by
// several fakes so a test can compare their interleaving in one string.
// The zero value is ready to use and safe for concurrent use.
type Trace struct {
	mu    sync.Mutex
	lines []string
}

// Add appends one line.
func (t *Trace) Add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
}

// String returns the trace, one operation per line.
func (t *Trace) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// Reset forgets every recorded line.
func (t *Trace) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = nil
}

// Fake is a resource that records each call in Trace and returns the
// configured errors. With Block set, the matching call waits for its
// context to end (a hung resource) and returns ctx.Err(); with Ignore set,
// it waits on Release instead, ignoring its context (a misbehaving resource).
type Fake struct {
	ResName string
	Trace   *Trace

	StartErr, StopErr, StatusErr error
	BlockStart, BlockStop        bool
	Stale                        bool          // RemoveStale finds (and clears) leftovers
	IgnoreCtx                    bool          // with Block*: wait for Release, not ctx
	Release                      chan struct{} // closed by the test to free an IgnoreCtx call

	mu        sync.Mutex
	running   bool
	announces int
}

// Name returns ResName.
func (f *Fake) Name() string { return f.ResName }

// Start records "start NAME" and fails with StartErr when set.
func (f *Fake) Start(ctx context.Context) error {
	return f.step(ctx, "start", f.BlockStart, f.StartErr, true)
}

// Stop records "stop NAME" and fails with StopErr when set.
func (f *Fake) Stop(ctx context.Context) error {
	return f.step(ctx, "stop", f.BlockStop, f.StopErr, false)
}

// step records "VERB NAME", blocks when block is set, then returns err or
// sets running.
func (f *Fake) step(ctx context.Context, verb string, block bool, err error, running bool) error {
	f.Trace.Add(verb + " " + f.ResName)
	if block {
		if err := f.block(ctx); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.running = running
	f.mu.Unlock()
	return nil
}

// Status records nothing; it returns StatusErr, or an error when stopped.
func (f *Fake) Status(ctx context.Context) error {
	if f.StatusErr != nil {
		return f.StatusErr
	}
	if !f.Running() {
		return errStopped
	}
	return nil
}

// RemoveStale records "remove stale NAME" and reports (and clears) Stale.
func (f *Fake) RemoveStale(ctx context.Context) (bool, error) {
	f.Trace.Add("remove stale " + f.ResName)
	f.mu.Lock()
	defer f.mu.Unlock()
	had := f.Stale
	f.Stale = false
	return had, nil
}

// Announce records "announce NAME".
func (f *Fake) Announce() {
	f.Trace.Add("announce " + f.ResName)
	f.mu.Lock()
	f.announces++
	f.mu.Unlock()
}

// Running reports whether the last successful call was Start.
func (f *Fake) Running() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

func (f *Fake) block(ctx context.Context) error {
	if f.IgnoreCtx {
		<-f.Release
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

type stoppedError struct{}

func (stoppedError) Error() string { return "stopped" }

var errStopped error = stoppedError{}
