package script

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxOutput bounds the output kept from one run; the tail is kept, since
// the last lines usually say what went wrong.
const MaxOutput = 4096

// DefaultKillGrace is the time between SIGTERM and SIGKILL after a timeout.
const DefaultKillGrace = 2 * time.Second

// waitDelay bounds the wait for output pipes once the program has exited:
// an init script that starts a daemon often leaves it holding stdout, and
// Wait would otherwise block for the daemon's lifetime.
const waitDelay = time.Second

// Command is one program invocation.
type Command struct {
	Path      string
	Args      []string
	Env       []string      // "KEY=value" added to the daemon's environment
	Timeout   time.Duration // 0: only ctx bounds the run
	KillGrace time.Duration // SIGTERM to SIGKILL (default DefaultKillGrace)
}

// Result is the outcome of a run that got as far as exiting.
type Result struct {
	ExitCode int    // -1 when killed by a signal
	Output   string // stdout and stderr interleaved, at most MaxOutput bytes
	Duration time.Duration
}

// Run runs c in a new process group with stdin from /dev/null. It returns
// an error when the program cannot start or does not finish in time (then
// the whole process group has been killed); a non-zero exit is not an
// error here but Result.ExitCode, for the caller to interpret.
func Run(ctx context.Context, c Command) (Result, error) {
	if c.KillGrace <= 0 {
		c.KillGrace = DefaultKillGrace
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	out := &tailBuffer{max: MaxOutput}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = out, out // one pipe: keeps the interleaving
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = waitDelay
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	pgid := cmd.Process.Pid // Setpgid: the leader's pid is the group id
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
			return res, fmt.Errorf("timed out after %v, killed%s: %w", c.Timeout, quoteOutput(res.Output), cause)
		}
		return res, fmt.Errorf("cancelled, killed%s: %w", quoteOutput(res.Output), cause)
	}
	res := Result{Output: out.String(), Duration: time.Since(start), ExitCode: cmd.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, waitErr
	}
	return res, nil
}

// quoteOutput renders output for an error: `: output "..."`, or nothing.
func quoteOutput(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return fmt.Sprintf(": output %q", s)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu        sync.Mutex
	max       int
	buf       []byte
	truncated bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return "..." + string(b.buf)
	}
	return string(b.buf)
}
