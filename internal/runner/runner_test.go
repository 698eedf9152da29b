package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// alive reports whether pid is a live, non-zombie process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The child ignores SIGTERM, so only the SIGKILL to the group ends it.
	p := testkit.WriteScript(t, dir, "hang", `trap '' TERM
sh -c 'trap "" TERM; echo $$ > `+pidFile+`; while :; do sleep 1; done' &
echo working
wait`)
	start := time.Now()
	res, err := Run(context.Background(), Command{Path: p, Timeout: 300 * time.Millisecond, KillGrace: 100 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `timed out after 300ms, killed: output "working"`) {
		t.Fatalf("Run() = %v, want timeout with output", err)
	}
	if res.ExitCode != -1 {
		t.Errorf("Run() exit code = %d, want -1", res.ExitCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run() took %v, want about 400ms", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("child never wrote its pid: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !testkit.Poll(func() bool { return !alive(pid) }) {
		syscall.Kill(pid, syscall.SIGKILL) // our own child: clean up by PID
		t.Fatalf("child %d still alive after the group was killed", pid)
	}
}

func TestRunDaemonHoldingStdout(t *testing.T) {
	// An init script that leaves a daemon holding its stdout must not hang
	// Start: the exit status counts, the pipe wait is bounded.
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "daemon.pid")
	p := testkit.WriteScript(t, dir, "daemon", `sleep 30 &
echo $! > `+pidFile+`
echo started; exit 0`)
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	res, err := Run(context.Background(), Command{Path: p, Timeout: 10 * time.Second})
	if err != nil || res.ExitCode != 0 || !strings.Contains(res.Output, "started") {
		t.Errorf("Run() = %+v, %v; want exit 0 with output started", res, err)
	}
	if res.Duration > 5*time.Second {
		t.Errorf("Run() took %v, want about waitDelay (%v)", res.Duration, waitDelay)
	}
}

func TestOutputBounded(t *testing.T) {
	dir := t.TempDir()
	p := testkit.WriteScript(t, dir, "loud", `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo LAST; exit 2`)
	res, err := Run(context.Background(), Command{Path: p, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 2 {
		t.Errorf("exit code = %d, want 2", res.ExitCode)
	}
	if len(res.Output) > MaxOutput+5 || !strings.HasPrefix(res.Output, "line 0\nline 1\n") || !strings.Contains(res.Output, "\n...\n") ||
		!strings.HasSuffix(res.Output, "LAST\n") {
		t.Errorf("output: %d bytes, starts %q, ends %q; want at most %d bytes, head and tail kept", len(res.Output), res.Output[:10], res.Output[len(res.Output)-10:], MaxOutput)
	}
	if got := res.FirstLine(); got != "line 0" {
		t.Errorf("FirstLine() = %q, want %q", got, "line 0")
	}
}

func TestRunStartError(t *testing.T) {
	res, err := Run(context.Background(), Command{Path: filepath.Join(t.TempDir(), "missing")})
	if err == nil || !errors.Is(err, os.ErrNotExist) || res.ExitCode != -1 {
		t.Errorf("Run(missing) = %+v, %v; want exit -1 and a not-exist error", res, err)
	}
}

func TestRunCancelled(t *testing.T) {
	p := testkit.WriteScript(t, t.TempDir(), "slow", "echo begun; exec sleep 30")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel) // the cancellation under test, not a wait
	_, err := Run(ctx, Command{Path: p, KillGrace: 100 * time.Millisecond})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "cancelled, killed") {
		t.Errorf("Run() after cancel = %v, want cancelled, killed", err)
	}
}

// TestRunTimeoutSendsTERMFirst: a program that handles SIGTERM gets to
// clean up and exits well before the grace period ends.
func TestRunTimeoutSendsTERMFirst(t *testing.T) {
	p := testkit.WriteScript(t, t.TempDir(), "polite", `trap 'echo got TERM; exit 0' TERM
echo started
while :; do sleep 0.05; done`)
	res, err := Run(context.Background(), Command{Path: p, Timeout: 300 * time.Millisecond, KillGrace: 30 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run() = %v, want a timeout", err)
	}
	if !strings.Contains(res.Output, "got TERM") {
		t.Errorf("output %q, want the program's TERM handler to have run", res.Output)
	}
	if res.Duration > 10*time.Second {
		t.Errorf("Run() took %v, want the TERM handler's exit, not the 30s grace", res.Duration)
	}
}

// TestWaitReady: ready after a few probes; an exited daemon is ErrExited
// without a probe; a daemon that never answers returns the probe's last
// error once the timeout passed.
func TestWaitReady(t *testing.T) {
	ctx := context.Background()
	running := make(chan struct{})
	probes := 0
	err := WaitReady(ctx, running, time.Minute, time.Millisecond, func() error {
		if probes++; probes < 3 {
			return errors.New("no socket yet")
		}
		return nil
	})
	if err != nil || probes != 3 {
		t.Errorf("WaitReady answering at the third probe = %v after %d probes, want nil after 3", err, probes)
	}

	exited := make(chan struct{})
	close(exited)
	probes = 0
	if err := WaitReady(ctx, exited, time.Minute, time.Millisecond, func() error { probes++; return nil }); !errors.Is(err, ErrExited) || probes != 0 {
		t.Errorf("WaitReady on an exited daemon = %v after %d probes, want ErrExited after none", err, probes)
	}

	refused := errors.New("connection refused")
	if err := WaitReady(ctx, running, 20*time.Millisecond, time.Millisecond, func() error { return refused }); err != refused {
		t.Errorf("WaitReady on a silent daemon = %v, want the probe's error %v", err, refused)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := WaitReady(canceled, running, time.Minute, time.Minute, func() error { return refused }); err != refused {
		t.Errorf("WaitReady with its context ended = %v, want the probe's error at once", err)
	}
}

func TestRunDir(t *testing.T) {
	dir := t.TempDir()
	p := testkit.WriteScript(t, t.TempDir(), "where", "pwd")
	res, err := Run(context.Background(), Command{Path: p, Dir: dir})
	if err != nil || strings.TrimSpace(res.Output) != dir {
		t.Errorf("Run(pwd in %s) = %q, %v; want the directory", dir, res.Output, err)
	}
}
