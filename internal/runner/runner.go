// Package runner runs the programs hapair starts (Heartbeat-style resource
// scripts and notify hooks in ha/script, track scripts in ha/ping, external
// checks and Zeus monitors in proxy/check, and with StartDaemon the
// daemons it supervises, BIRD in ha/bgp and conntrackd in ha/conntracksync)
// with one kill policy and one output policy:
//
//   - Each program runs in its own process group with stdin from /dev/null.
//     When its time is up or its context ends, the whole group gets SIGTERM,
//     then after a grace period SIGKILL (as systemd's KillMode=control-group
//     with TimeoutStopSec), so helpers a script forked die with it.
//   - stdout and stderr share one pipe (their interleaving is kept) and the
//     capture is bounded: the first and the last MaxOutput/2 bytes are kept,
//     since a check's verdict is on its first line and a script's error is
//     usually on its last.
//
// Process timing is real time: signals and exits happen on the host's clock.
// It does not log; callers decide what an exit status means.
package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// MaxOutput bounds the output kept from one run (head and tail halves).
const MaxOutput = 4096

// DefaultKillGrace is the time between SIGTERM and SIGKILL for resource
// scripts and hooks, which may need a moment to clean up.
const DefaultKillGrace = 2 * time.Second

// ProbeKillGrace is the grace for checks, track scripts and monitors: their
// timeouts are short and the prober wants the slot back.
const ProbeKillGrace = 200 * time.Millisecond

// waitDelay bounds the wait for the output pipe once the program has
// exited: an init script that starts a daemon often leaves it holding
// stdout, and Wait would otherwise block for the daemon's lifetime.
const waitDelay = time.Second

// Command is one program invocation.
type Command struct {
	Path      string
	Args      []string
	Env       []string      // "KEY=value" added to the daemon's environment
	Dir       string        // working directory ("" = the daemon's)
	Timeout   time.Duration // 0: only ctx bounds the run
	KillGrace time.Duration // SIGTERM to SIGKILL (default DefaultKillGrace)
	// DieWithParent has the kernel SIGKILL the program when the OS thread
	// that started it exits (prctl PR_SET_PDEATHSIG), so a daemon had runs
	// cannot outlive a had that was SIGKILLed. The caller keeps that thread
	// alive for the whole Run with runtime.LockOSThread.
	DieWithParent bool
}

// Result is the outcome of a run.
type Result struct {
	ExitCode int    // -1 when killed by a signal or never started
	Status   string // how it ended, as exec words it: "exit status 2", "signal: killed"
	Output   string // stdout and stderr interleaved, bounded (see package doc)
	Duration time.Duration
}

// FirstLine returns the first line of the output, trimmed.
func (r Result) FirstLine() string {
	line, _, _ := strings.Cut(strings.TrimSpace(r.Output), "\n")
	return strings.TrimSpace(line)
}

// Run runs c. It returns an error when the program cannot start (wrapping
// exec's error) or does not finish in time: then the whole process group has
// been killed and the error wraps context.DeadlineExceeded (c.Timeout or ctx's
// deadline) or context.Canceled. A non-zero exit is not an error here but
// Result.ExitCode, for the caller to interpret.
func Run(ctx context.Context, c Command) (Result, error) {
	return run(ctx, c, func(int, error) {})
}

// run is Run calling started once the program has started (with its pid)
// or failed to (with the error Run returns), before it waits.
func run(ctx context.Context, c Command, started func(pid int, err error)) (Result, error) {
	if c.KillGrace <= 0 {
		c.KillGrace = DefaultKillGrace
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	out := &capture{}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	cmd.Stdout, cmd.Stderr = out, out // one pipe: keeps the interleaving
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.DieWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	cmd.WaitDelay = waitDelay
	start := time.Now()
	if err := cmd.Start(); err != nil {
		started(0, err)
		return Result{ExitCode: -1}, err
	}
	pgid := cmd.Process.Pid // Setpgid: the leader's pid is the group id
	started(pgid, nil)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		// Terminate the whole group, then kill whatever ignored SIGTERM
		// (including children of an already exited leader).
		syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(c.KillGrace)
		exited := false
		select {
		case <-done:
			exited = true
		case <-t.C:
		}
		t.Stop()
		syscall.Kill(-pgid, syscall.SIGKILL)
		if !exited {
			<-done
		}
		res := Result{ExitCode: -1, Output: out.String(), Duration: time.Since(start)}
		cause := ctx.Err()
		if errors.Is(cause, context.DeadlineExceeded) && c.Timeout > 0 {
			return res, fmt.Errorf("timed out after %v, killed%s: %w", c.Timeout, QuoteOutput(res.Output), cause)
		}
		return res, fmt.Errorf("cancelled, killed%s: %w", QuoteOutput(res.Output), cause)
	}
	res := Result{Output: out.String(), Duration: time.Since(start), ExitCode: cmd.ProcessState.ExitCode(),
		Status: cmd.ProcessState.String()}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, waitErr
	}
	return res, nil
}

// QuoteOutput renders output for an error message: `: output "..."`, or
// nothing when it is blank.
func QuoteOutput(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return fmt.Sprintf(": output %q", s)
}
