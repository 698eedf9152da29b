package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// TestDaemonStop: a started daemon runs until Stop, which ends it by the
// kill policy and says so in Reason.
func TestDaemonStop(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	p := testkit.WriteScript(t, dir, "daemon", "echo up; touch "+ready+"; exec sleep 30")
	d, err := StartDaemon(Command{Path: p, KillGrace: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("StartDaemon() = %v", err)
	}
	testkit.WaitFor(t, "the daemon's ready file", func() bool { _, err := os.Stat(ready); return err == nil })
	if !alive(d.Pid()) || d.Exited() {
		t.Fatalf("daemon %d alive %v, Exited() %v right after the start; want running", d.Pid(), alive(d.Pid()), d.Exited())
	}
	d.Stop()
	if !d.Exited() || alive(d.Pid()) {
		t.Errorf("daemon %d alive %v, Exited() %v after Stop; want ended", d.Pid(), alive(d.Pid()), d.Exited())
	}
	if got := d.Reason(); !strings.HasPrefix(got, `cancelled, killed: output "up"`) {
		t.Errorf("Reason() after Stop = %q, want cancelled, killed with the output", got)
	}
	d.Stop() // a second Stop returns at once
}

// TestDaemonExits: a daemon that ends by itself closes Done, and Reason
// gives its exit status and output.
func TestDaemonExits(t *testing.T) {
	p := testkit.WriteScript(t, t.TempDir(), "daemon", "echo cannot read config; exit 3")
	d, err := StartDaemon(Command{Path: p}, nil)
	if err != nil {
		t.Fatalf("StartDaemon() = %v", err)
	}
	<-d.Done()
	if got, want := d.Reason(), `exit status 3: output "cannot read config"`; got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
}

func TestDaemonStartError(t *testing.T) {
	d, err := StartDaemon(Command{Path: filepath.Join(t.TempDir(), "missing")}, nil)
	if err == nil || d != nil {
		t.Errorf("StartDaemon(missing) = %v, %v; want no daemon and exec's error", d, err)
	}
}

// TestDaemonInheritsThread: what onThread sets on the launching thread
// reaches the daemon through the fork. The timer slack stands in for a
// scheduling policy: per thread, inherited by fork, kept across exec and
// settable without privilege.
func TestDaemonInheritsThread(t *testing.T) {
	const slack = 123457
	p := testkit.WriteScript(t, t.TempDir(), "daemon", "cat /proc/self/timerslack_ns; exit 0")
	var setErr error
	d, err := StartDaemon(Command{Path: p}, func() { setErr = unix.Prctl(unix.PR_SET_TIMERSLACK, slack, 0, 0, 0) })
	if err != nil || setErr != nil {
		t.Fatalf("StartDaemon() = %v, setting the thread's timer slack: %v", err, setErr)
	}
	<-d.Done()
	if got, want := d.Reason(), `exit status 0: output "123457"`; got != want {
		t.Errorf("the daemon's timer slack: Reason() = %q, want %q", got, want)
	}
}

// TestDaemonReady: Ready answers nil once the probe does; a daemon that
// exits first is ErrExited with its exit and output; one that never
// answers is stopped at the timeout, with the probe's error.
func TestDaemonReady(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p := testkit.WriteScript(t, dir, "daemon", "exec sleep 30")
	d, err := StartDaemon(Command{Path: p, KillGrace: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("StartDaemon() = %v", err)
	}
	probes := 0
	if err := d.Ready(ctx, time.Minute, time.Millisecond, func() error {
		if probes++; probes < 3 {
			return errors.New("no socket yet")
		}
		return nil
	}); err != nil || probes != 3 || d.Exited() {
		t.Errorf("Ready answering at the third probe = %v after %d probes (exited %v), want nil after 3, running", err, probes, d.Exited())
	}
	refused := errors.New("connection refused")
	err = d.Ready(ctx, 20*time.Millisecond, time.Millisecond, func() error { return refused })
	if !errors.Is(err, refused) || !d.Exited() || !strings.HasPrefix(err.Error(), "not answering after 20ms (stopped): connection refused") {
		t.Errorf("Ready on a silent daemon = %v (exited %v), want the probe's error and the daemon stopped", err, d.Exited())
	}

	p = testkit.WriteScript(t, dir, "dies", "echo cannot bind; exit 2")
	d, err = StartDaemon(Command{Path: p}, nil)
	if err != nil {
		t.Fatalf("StartDaemon() = %v", err)
	}
	err = d.Ready(ctx, time.Minute, time.Millisecond, func() error { return refused })
	if want := `exited before it answered: exit status 2: output "cannot bind"`; !errors.Is(err, ErrExited) || err.Error() != want {
		t.Errorf("Ready on a daemon that exits = %v, want %s", err, want)
	}
}

// TestDaemonRunning: Running is a resource's Status, naming the daemon.
func TestDaemonRunning(t *testing.T) {
	var none *Daemon
	if err := none.Running("bgp: BIRD"); err == nil || err.Error() != "bgp: BIRD not started" {
		t.Errorf("Running() of no daemon = %v, want not started", err)
	}
	p := testkit.WriteScript(t, t.TempDir(), "daemon", "echo up; exec sleep 30")
	d, err := StartDaemon(Command{Path: p, KillGrace: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("StartDaemon() = %v", err)
	}
	if err := d.Running("bgp: BIRD"); err != nil {
		t.Errorf("Running() of a running daemon = %v, want nil", err)
	}
	d.Stop()
	// The reason, not the output: Stop may come before the shell has
	// printed "up" (CI saw "killed: context canceled" on a loaded machine).
	if err := d.Running("bgp: BIRD"); err == nil || !strings.HasPrefix(err.Error(), `bgp: BIRD exited: cancelled, killed`) {
		t.Errorf("Running() after Stop = %v, want exited with the reason", err)
	}
}
