package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxOutput bounds what is kept of a program's output.
const maxOutput = 4 << 10

// ExternalChecker is a check that runs a program and passes when it exits 0
// and its output does not start with FAIL (ldirectord checktype=external).
//
// The program runs as `Program Args... VIP VPORT RIP RPORT`, ldirectord's
// checkcommand argument order, so existing ldirectord check scripts work
// unchanged; the same values are in HAPAIR_VIP, HAPAIR_VPORT, HAPAIR_RIP and
// HAPAIR_RPORT. It runs in its own process group, killed whole at Timeout.
type ExternalChecker struct {
	Program string
	Args    []string
	Virtual netip.AddrPort
	Timeout time.Duration
}

// Check runs the program for target.
func (c *ExternalChecker) Check(ctx context.Context, target netip.AddrPort) error {
	vip, vport := "0.0.0.0", "0"
	if c.Virtual.IsValid() {
		vip, vport = c.Virtual.Addr().String(), strconv.Itoa(int(c.Virtual.Port()))
	}
	rip, rport := target.Addr().String(), strconv.Itoa(int(target.Port()))
	args := append(append([]string(nil), c.Args...), vip, vport, rip, rport)
	env := []string{"HAPAIR_VIP=" + vip, "HAPAIR_VPORT=" + vport, "HAPAIR_RIP=" + rip, "HAPAIR_RPORT=" + rport}
	res := runProgram(ctx, c.Program, args, env, c.Timeout)
	what := "external " + c.Program
	switch {
	case res.timedOut:
		return fmt.Errorf("%s: timeout after %v", what, c.Timeout)
	case res.startErr != nil:
		return fmt.Errorf("%s: %w", what, res.startErr)
	case strings.HasPrefix(res.firstLine, "FAIL"):
		return fmt.Errorf("%s: %s", what, res.firstLine)
	case res.exitErr != nil:
		if res.firstLine != "" {
			return fmt.Errorf("%s: %v: %s", what, res.exitErr, res.firstLine)
		}
		return fmt.Errorf("%s: %v", what, res.exitErr)
	}
	return nil
}

// result is what running a program produced.
type result struct {
	output    string // stdout and stderr, at most maxOutput bytes, trimmed
	firstLine string
	timedOut  bool
	startErr  error // could not start (not found, not executable)
	exitErr   error // ran but failed (exit status N, signal)
}

// runProgram runs prog with a timeout, killing its whole process group when
// the time is up or ctx ends, and collecting its combined output.
func runProgram(ctx context.Context, prog string, args, env []string, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(cmd.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that keeps our pipe open must not hold Wait past the kill.
	cmd.WaitDelay = 100 * time.Millisecond
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := result{output: strings.TrimSpace(out.String())}
	r.firstLine, _, _ = strings.Cut(r.output, "\n")
	r.firstLine = strings.TrimSpace(r.firstLine)
	var ee *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		r.timedOut = true
	case err == nil:
	case errors.As(err, &ee):
		r.exitErr = err
	case errors.Is(err, exec.ErrWaitDelay):
	default:
		r.startErr = err
	}
	return r
}

// limitedBuffer keeps the first maxOutput bytes written and drops the rest.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
