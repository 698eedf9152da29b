package script

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

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/testkit"
)

var _ resource.Resource = (*Script)(nil)

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScriptOps(t *testing.T) {
	dir := t.TempDir()
	// Records its arguments, then acts on the operation (the last one).
	writeScript(t, dir, "svc", `echo "$@" >> "$(dirname "$0")/calls"
for op; do :; done
case "$op" in
start) echo started; exit 0 ;;
stop) exit 0 ;;
status) echo "svc is stopped" >&2; exit 3 ;;
esac`)
	writeScript(t, dir, "broken", `echo "cannot bind 198.18.0.100:80" >&2; exit 1`)
	writeScript(t, dir, "legacy", `echo "svc running"; exit 0`)
	writeScript(t, dir, "legacydown", `echo "svc stopped"; exit 0`)
	ctx := context.Background()

	s, err := New(Spec{Resource: "svc::a1::a 2", Dirs: []string{filepath.Join(dir, "missing"), dir}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Name(), "script svc::a1::a 2"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if err := s.Start(ctx); err != nil {
		t.Errorf("Start() = %v, want nil", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop() = %v, want nil", err)
	}
	err = s.Status(ctx)
	if !errors.Is(err, ErrStopped) || err.Error() != "script: svc::a1::a 2 status: stopped (exit status 3)" {
		t.Errorf("Status() = %v, want ErrStopped", err)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if got, want := string(calls), "a1 a 2 start\na1 a 2 stop\na1 a 2 status\n"; got != want {
		t.Errorf("calls = %q, want %q", got, want)
	}

	b, err := New(Spec{Resource: filepath.Join(dir, "broken")})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Start(ctx)
	want := `script: ` + filepath.Join(dir, "broken") + ` start: exit status 1: output "cannot bind 198.18.0.100:80"`
	if err == nil || err.Error() != want {
		t.Errorf("Start() = %v, want %q", err, want)
	}
	if err := b.Status(ctx); err == nil || !strings.Contains(err.Error(), `status: exit status 1: output "cannot bind`) {
		t.Errorf("Status() = %v, want exit status 1 with output", err)
	}

	l, _ := New(Spec{Resource: "legacy", Dirs: []string{dir}, LegacyStatus: true})
	if err := l.Status(ctx); err != nil {
		t.Errorf("legacy Status() = %v, want nil (output says running)", err)
	}
	ld, _ := New(Spec{Resource: "legacydown", Dirs: []string{dir}, LegacyStatus: true})
	if err := ld.Status(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("legacy Status() = %v, want ErrStopped", err)
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\n"), 0o644)
	tests := []struct {
		res  string
		want string
	}{
		{"", `script: resource "": empty name`},
		{"::x", `script: resource "::x": empty name`},
		{"nothere", `script: resource "nothere": no executable file of that name in ` + dir},
		{"../etc/x", `script: resource "../etc/x": give a bare name or an absolute path`},
		{"noexec", `script: resource "noexec": no executable file of that name in ` + dir},
		{filepath.Join(dir, "noexec"), "is not executable (mode 0644)"},
		{dir, "is not a regular file"},
	}
	for _, tt := range tests {
		_, err := New(Spec{Resource: tt.res, Dirs: []string{dir}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) = %v, want it to contain %q", tt.res, err, tt.want)
		}
	}
}

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
	p := writeScript(t, dir, "hang", `trap '' TERM
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
	p := writeScript(t, dir, "daemon", `sleep 30 &
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
	p := writeScript(t, dir, "loud", `i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo LAST; exit 2`)
	res, err := Run(context.Background(), Command{Path: p, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 2 {
		t.Errorf("exit code = %d, want 2", res.ExitCode)
	}
	if len(res.Output) > MaxOutput+3 || !strings.HasPrefix(res.Output, "...") || !strings.HasSuffix(res.Output, "LAST\n") {
		t.Errorf("output: %d bytes, starts %q, ends %q; want at most %d bytes, the tail kept", len(res.Output), res.Output[:10], res.Output[len(res.Output)-10:], MaxOutput)
	}
}
