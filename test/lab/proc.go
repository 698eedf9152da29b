package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Proc is a long-running process in a host's namespace. Its stdout and stderr
// go to LogPath (dumped into the test log when the test fails). The lab stops
// it at cleanup: SIGTERM, then SIGKILL to its process group after
// Options.StopTimeout, always by PID.
type Proc struct {
	Host    *Host
	Argv    []string
	PID     int // the program's own PID: `ip netns exec` execs it in place
	LogPath string

	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has been waited for
	err  error         // exit error, valid after done
}

// ErrStillRunning is returned by Proc.Wait when the process outlived the timeout.
var ErrStillRunning = errors.New("still running")

// Run runs argv in the host's namespace to completion and returns its stdout.
// The error wraps *exec.ExitError (see ExitCode) and carries stderr. A ctx
// without deadline is bounded at 30s.
func (h *Host) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("lab: %s: Run with no command", h.Name)
	}
	return run(ctx, nil, "ip", append([]string{"netns", "exec", h.Netns}, argv...)...)
}

// ExitCode returns the exit status carried by err: 0 for nil, the status for
// an *exec.ExitError, -1 otherwise (not started, killed by a signal).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Start starts argv in the host's namespace with env (KEY=VALUE) added to a
// minimal environment (PATH, LC_ALL=C), working directory h.Dir. A failure to
// start fails the test.
func (h *Host) Start(argv []string, env ...string) *Proc {
	l := h.lab
	l.t.Helper()
	if len(argv) == 0 {
		l.t.Fatalf("lab: %s: Start with no command", h.Name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		l.t.Fatalf("lab %s: Start %q after Close", l.ID, argv)
	}
	logPath := filepath.Join(h.Dir, fmt.Sprintf("%02d-%s.log", len(l.procs)+1, filepath.Base(argv[0])))
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		l.t.Fatalf("lab: %s: creating log: %v", h.Name, err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.Netns}, argv...)...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Dir = h.Dir
	cmd.Stdout, cmd.Stderr = f, f // a file, not a pipe: no copier goroutine, no blocking on grandchildren
	// Own process group: cleanup can kill what the process forked (scripts)
	// by the PID we started. Pdeathsig: a test binary killed by -timeout
	// takes its lab processes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		l.t.Fatalf("lab: %s: starting %q: %v", h.Name, argv, err)
	}
	p := &Proc{Host: h, Argv: argv, PID: cmd.Process.Pid, LogPath: logPath, cmd: cmd, log: f, done: make(chan struct{})}
	l.procs = append(l.procs, p)
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("lab: %s: signal %v to pid %d: %w", p.Host.Name, sig, p.PID, os.ErrProcessDone)
	}
	if err := syscall.Kill(p.PID, sig); err != nil {
		return fmt.Errorf("lab: %s: signal %v to pid %d: %w", p.Host.Name, sig, p.PID, err)
	}
	return nil
}

// Wait waits at most timeout for the process to exit and returns its exit
// error (nil for status 0; see ExitCode), or ErrStillRunning.
func (p *Proc) Wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("lab: %s: pid %d (%s) after %v: %w", p.Host.Name, p.PID, filepath.Base(p.Argv[0]), timeout, ErrStillRunning)
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Output returns what the process wrote so far (stdout and stderr interleaved).
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Stop sends SIGTERM, waits up to timeout, then SIGKILLs the process group
// and waits again; it returns the exit error, like Wait. Stopping an exited
// process returns its exit error.
func (p *Proc) Stop(timeout time.Duration) error {
	if !p.Exited() {
		p.Signal(syscall.SIGTERM)
	}
	return p.finish(timeout)
}

// finish waits for a process already asked to stop, SIGKILLs its group when
// it does not, and always sweeps its group for leftover children.
func (p *Proc) finish(timeout time.Duration) error {
	err := p.Wait(timeout)
	if errors.Is(err, ErrStillRunning) {
		syscall.Kill(-p.PID, syscall.SIGKILL)
		err = p.Wait(5 * time.Second)
	}
	// Children the process forked (same group) must not outlive the test.
	// The group ID stays reserved while any member lives, so this can only
	// reach processes we started.
	syscall.Kill(-p.PID, syscall.SIGKILL)
	return err
}

func (p *Proc) status() string {
	if !p.Exited() {
		return "running"
	}
	if p.err == nil {
		return "exit 0"
	}
	return p.err.Error()
}

// tail returns the last n bytes of the log.
func (p *Proc) tail(n int64) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimRight(string(b), "\n")
}

// stopAll asks every running process to stop at once, then waits for each,
// so a lab of N processes stops in one StopTimeout, not N.
func stopAll(procs []*Proc, timeout time.Duration) error {
	for _, p := range procs {
		if !p.Exited() {
			p.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(timeout)
	var errs []error
	for _, p := range procs {
		err := p.finish(max(time.Until(deadline), 10*time.Millisecond))
		if errors.Is(err, ErrStillRunning) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Sh runs script with `sh -ec` in the host's namespace, bounded at 10s,
// and fails t when it fails, naming the host, the script and its output.
func (h *Host) Sh(t T, script string) {
	t.Helper()
	if out, err := h.RunFor(10*time.Second, "sh", "-ec", script); err != nil {
		t.Fatalf("%s: %s: %v\n%s", h.Name, script, err, out)
	}
}

// RunFor is Run with a timeout instead of a context.
func (h *Host) RunFor(timeout time.Duration, argv ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return h.Run(ctx, argv...)
}
