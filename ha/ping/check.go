package ping

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/probe"
	"github.com/hapair/hapair/internal/runner"
)

// Probe runs one check; nil means healthy. It must return by ctx's deadline.
type Probe func(ctx context.Context) error

// Defaults for Spec.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = time.Second
	DefaultFall     = 3 // one lost echo is noise, three are an outage
	DefaultRise     = 1
	// jitterFraction spreads probes by ±10% of the interval so checks
	// started together (and two nodes pinging one gateway) drift apart.
	jitterFraction = 0.1
)

// Spec describes one check.
type Spec struct {
	Name     string        // for reports, e.g. "ping 198.18.0.1"
	Probe    Probe         // required
	Interval time.Duration // between probes (default 1s), jittered ±10%
	Timeout  time.Duration // per probe (default 1s, or Interval when shorter)
	Fall     int           // failures in a row to report down (default 3)
	Rise     int           // successes in a row to report up (default 1)

	Clock clock.Clock // paces probes (default clock.Real{})
	Rand  *rand.Rand  // jitter source (default: probe.Loop seeds one from the clock); not shared
}

// Check runs one ping or track check until its context ends.
type Check struct {
	spec    Spec
	tracker *probe.Tracker
}

// NewCheck validates spec and fills defaults.
func NewCheck(spec Spec) (*Check, error) {
	if spec.Probe == nil {
		return nil, fmt.Errorf("ping: check %q: no probe", spec.Name)
	}
	if spec.Interval < 0 || spec.Timeout < 0 || spec.Fall < 0 || spec.Rise < 0 {
		return nil, fmt.Errorf("ping: check %q: interval, timeout, fall and rise must not be negative", spec.Name)
	}
	spec.Interval = cmp.Or(spec.Interval, DefaultInterval)
	spec.Timeout = cmp.Or(spec.Timeout, TimeoutFor(spec.Interval))
	spec.Fall = cmp.Or(spec.Fall, DefaultFall)
	spec.Rise = cmp.Or(spec.Rise, DefaultRise)
	spec.Clock = clock.Or(spec.Clock)
	return &Check{spec: spec, tracker: probe.NewTracker(spec.Rise, spec.Fall, probe.StartUnknown)}, nil
}

// Run probes every interval until ctx ends and calls report on every
// transition (the first one when the state first becomes known). report
// runs on Run's goroutine and should not block.
func (c *Check) Run(ctx context.Context, report func(name string, ok bool, reason string)) {
	loop := probe.Loop{Interval: c.spec.Interval, Jitter: jitterFraction, Clock: c.spec.Clock, Rand: c.spec.Rand}
	loop.Run(ctx, func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, c.spec.Timeout)
		err := c.spec.Probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if probe.IsLocal(err) {
			// No descriptor or buffer here: the ping never left, so it
			// says nothing of the ping node; do not lower the priority
			// for it (a local shortage must not cause a failover).
			return
		}
		if c.tracker.Observe(err) {
			report(c.spec.Name, c.tracker.Healthy(), transition(c.spec.Name, c.tracker, err))
		}
	})
}

// transition words a change of tr for logs and status, as Heartbeat's
// ipfail and keepalived's track scripts are read: "ping 198.18.0.1: ok",
// "ping 198.18.0.1: failed 3 times in a row, last: no reply after 1s".
func transition(name string, tr *probe.Tracker, err error) string {
	n := tr.Streak()
	switch {
	case tr.Healthy() && n == 1:
		return name + ": ok"
	case tr.Healthy():
		return fmt.Sprintf("%s: ok %d times in a row", name, n)
	case n == 1:
		return fmt.Sprintf("%s: failed: %v", name, err)
	}
	return fmt.Sprintf("%s: failed %d times in a row, last: %v", name, n, err)
}

// TrackProbe runs a track script: exit status 0 is healthy. The probe's
// context deadline is the script's timeout; on timeout its whole process
// group is killed.
func TrackProbe(path string, args []string) Probe {
	return func(ctx context.Context) error {
		res, err := runner.Run(ctx, runner.Command{Path: path, Args: args, KillGrace: runner.ProbeKillGrace})
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%s: timed out", path)
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		if res.ExitCode != 0 {
			out := strings.TrimSpace(res.Output)
			if len(out) > 200 { // a reason is one log line: its tail says what went wrong
				out = "..." + out[len(out)-200:]
			}
			return fmt.Errorf("%s: %s: output %q", path, res.Status, out)
		}
		return nil
	}
}
