package check

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/probe"
	"github.com/hapair/hapair/internal/runner"
)

// MonitorResult is the outcome of one monitor run.
type MonitorResult int

const (
	MonitorOK      MonitorResult = iota // printed OK
	MonitorFail                         // printed FAIL
	MonitorError                        // could not run, exited non-zero, or printed neither
	MonitorTimeout                      // still running at the timeout (killed)
)

func (r MonitorResult) String() string {
	switch r {
	case MonitorOK:
		return "OK"
	case MonitorFail:
		return "FAIL"
	case MonitorError:
		return "error"
	case MonitorTimeout:
		return "timeout"
	}
	return "MonitorResult(?)"
}

// Monitor is a Zeus service-monitor program: run every Interval, it "must
// simply output OK if everything is well, or FAIL if there is a problem".
type Monitor struct {
	Program string
	Args    []string // e.g. SERVER=database-server, passed as given
	// Interval between runs (default 5s, Zeus's example TIMEPERIOD).
	Interval time.Duration
	// Timeout bounds one run (default Interval); the process group is killed.
	Timeout time.Duration
}

// Same reports whether m and o run the same program with the same
// arguments: they give the same verdict, so a service lists such a monitor
// once (proxy.ServiceConfig.Validate refuses a second copy).
func (m Monitor) Same(o Monitor) bool {
	return m.Program == o.Program && slices.Equal(m.Args, o.Args)
}

func (m Monitor) withDefaults() Monitor {
	if m.Interval <= 0 {
		m.Interval = DefaultMonitorInterval
	}
	if m.Timeout <= 0 {
		m.Timeout = m.Interval
	}
	return m
}

// Run runs the program once. detail is the program's first output line for
// OK and FAIL, and the cause for error and timeout.
func (m Monitor) Run(ctx context.Context) (res MonitorResult, detail string) {
	m = m.withDefaults()
	r, err := runner.Run(ctx, runner.Command{Path: m.Program, Args: m.Args, Timeout: m.Timeout, KillGrace: runner.ProbeKillGrace})
	line := r.FirstLine()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return MonitorTimeout, fmt.Sprintf("timeout after %v", m.Timeout)
	case err != nil:
		return MonitorError, err.Error()
	case strings.HasPrefix(line, "FAIL"):
		return MonitorFail, line
	case r.ExitCode != 0:
		return MonitorError, strings.TrimSpace(r.Status + ": " + line)
	case strings.HasPrefix(line, "OK"):
		return MonitorOK, line
	}
	return MonitorError, fmt.Sprintf("printed %q, want OK or FAIL", line)
}

// MonitorSet runs several monitors and chooses the pool: the backup pool while
// any monitor's latest run is not OK (FAIL, error or timeout: a monitor that
// cannot answer is not trusted), the primary pool when every one is OK again.
// It starts on the primary pool, as Zeus uses its masters "when everything is
// running normally", and switches on the first bad result.
type MonitorSet struct {
	monitors []Monitor
	onSwitch func(usingBackup bool, reason string)

	mu          sync.Mutex // guards the fields below and orders onSwitch calls
	bad         []string   // per monitor: "" if its latest run was OK (or none yet), else why
	usingBackup bool
}

// NewMonitorSet returns a set; onSwitch is called on each change of pool, in
// order, with the reason ("monitor /usr/local/bin/check-db: FAIL db down",
// "all monitors OK"), and must not call back into the set.
func NewMonitorSet(monitors []Monitor, onSwitch func(usingBackup bool, reason string)) *MonitorSet {
	ms := make([]Monitor, len(monitors))
	for i, m := range monitors {
		ms[i] = m.withDefaults()
	}
	return &MonitorSet{monitors: ms, onSwitch: onSwitch, bad: make([]string, len(ms))}
}

// UsingBackup reports the current pool choice and, when on the backup pool,
// the first reason.
func (s *MonitorSet) UsingBackup() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bad {
		if b != "" {
			return s.usingBackup, b
		}
	}
	return s.usingBackup, ""
}

// Observe records monitor i's result and calls onSwitch if the pool changes.
// Run calls it; it is exported so a caller can drive the set without programs.
func (s *MonitorSet) Observe(i int, res MonitorResult, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.bad) {
		return
	}
	if detail == "" {
		detail = res.String()
	}
	switch res {
	case MonitorOK:
		s.bad[i] = ""
	case MonitorError:
		s.bad[i] = fmt.Sprintf("monitor %s: error: %s", s.monitors[i].Program, detail)
	default: // FAIL output starts with FAIL; a timeout's detail says timeout
		s.bad[i] = fmt.Sprintf("monitor %s: %s", s.monitors[i].Program, detail)
	}
	reason := "all monitors OK"
	backup := false
	for _, b := range s.bad {
		if b != "" {
			backup, reason = true, b
			break
		}
	}
	if backup != s.usingBackup {
		s.usingBackup = backup
		if s.onSwitch != nil {
			s.onSwitch(backup, reason)
		}
	}
}

// Run runs every monitor at once and then every Interval (on clk; nil means
// clock.Real{}) until ctx ends, and returns when all runs have finished.
func (s *MonitorSet) Run(ctx context.Context, clk clock.Clock) {
	var wg sync.WaitGroup
	for i, m := range s.monitors {
		wg.Go(func() {
			probe.Loop{Interval: m.Interval, Clock: clk}.Run(ctx, func(ctx context.Context) {
				res, detail := m.Run(ctx)
				if ctx.Err() != nil {
					return // a run cut short by shutdown says nothing
				}
				s.Observe(i, res, detail)
			})
		})
	}
	wg.Wait()
}
