// Package pacer keeps a loop that keeps failing (an accept loop out of file
// descriptors, EMFILE/ENFILE/ENOBUFS) from spinning a core and flooding the
// log: it backs off like net/http's Server.Serve (5ms doubling to 1s) and
// logs the first failure at once, then at most one line per LogEvery with
// the count of the failures that line stands for.
package pacer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/clock"
)

const (
	// MinDelay and MaxDelay bound the pause after a failure; the values
	// are net/http's Server.Serve backoff for temporary accept errors.
	MinDelay = 5 * time.Millisecond
	MaxDelay = time.Second
	// LogEvery is how often a run of failures may log one line.
	LogEvery = 10 * time.Second
)

// Pacer paces one loop. The zero value is not usable; use New. It is safe
// for concurrent use, though one loop normally owns it.
type Pacer struct {
	log   *slog.Logger
	msg   string
	clock clock.Clock

	mu         sync.Mutex
	delay      time.Duration
	lastLog    time.Time
	logged     bool
	suppressed uint64
}

// New returns a Pacer logging msg (e.g. "control socket accept failed") at
// Warn on log with the error and, after the first line, "suppressed" (the
// failures not logged since). A nil clock is the system clock; a nil log
// discards.
func New(log *slog.Logger, msg string, c clock.Clock) *Pacer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pacer{log: log, msg: msg, clock: clock.Or(c)}
}

// Fail records a failure, logs it unless a line went out less than
// LogEvery ago, and returns the pause to take before trying again.
func (p *Pacer) Fail(err error) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = min(max(2*p.delay, MinDelay), MaxDelay)
	now := p.clock.Now()
	if p.logged && p.clock.Since(p.lastLog) < LogEvery {
		p.suppressed++
		return p.delay
	}
	p.log.Warn(p.msg, "err", err, "backoff", p.delay, "suppressed", p.suppressed)
	p.logged, p.lastLog, p.suppressed = true, now, 0
	return p.delay
}

// OK ends a run of failures: the next one pauses MinDelay again.
func (p *Pacer) OK() {
	p.mu.Lock()
	p.delay = 0
	p.mu.Unlock()
}

// Wait records err with Fail and sleeps the pause on the Pacer's clock; it
// returns false at once if done is closed first (the loop should stop).
func (p *Pacer) Wait(err error, done <-chan struct{}) bool {
	t := p.clock.NewTimer(p.Fail(err))
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C():
		return true
	}
}

// WaitCtx is Wait with a context.
func (p *Pacer) WaitCtx(ctx context.Context, err error) bool { return p.Wait(err, ctx.Done()) }
