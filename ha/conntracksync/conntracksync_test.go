package conntracksync

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// fakeConntrackd stands in for conntrackd: run as a daemon (-C conf only)
// it marks itself running until SIGTERM; as a client it records the
// command in trace and answers -s/-k only while a daemon runs. Files in
// dir steer failures: fail<op> makes that command fail, hold<op> makes it
// wait (up to 10 s) until the file goes, die makes the daemon exit 3
// saying "boom", diestart makes it exit 2 at once saying "cannot bind",
// silent keeps it from ever answering -s.
const fakeConntrackd = `#!/bin/sh
d=$(dirname "$2")/fake
mkdir -p "$d"
case "$3" in
"")
	echo daemon >> "$d/trace"
	[ -f "$d/diestart" ] && { echo "cannot bind"; exit 2; }
	trap 'rm -f "$d/running"; echo term >> "$d/trace"; exit 0' TERM
	[ -f "$d/silent" ] || touch "$d/running"
	i=0
	while [ $i -lt 1200 ]; do
		if [ -f "$d/die" ]; then rm -f "$d/running"; echo boom; exit 3; fi
		sleep 0.05; i=$((i+1))
	done
	exit 0;;
-s) [ -f "$d/running" ] || exit 1;;
-k) [ -f "$d/running" ] || exit 1; printf "%s\n" "$3" >> "$d/trace";;
*)
	printf "%s\n" "$3" >> "$d/trace"
	i=0
	while [ -f "$d/hold$3" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
	[ -f "$d/fail$3" ] && { echo "failed $3"; exit 1; }
	;;
esac
exit 0
`

func newFake(t *testing.T) (*Resource, string) {
	t.Helper()
	dir := t.TempDir()
	bin := testkit.WriteFile(t, dir, "conntrackd", fakeConntrackd, 0o755)
	r, err := New(Config{Interface: "eth1", Local: netip.MustParseAddr("198.18.1.11"),
		Peer: netip.MustParseAddr("198.18.1.12"), Dir: filepath.Join(dir, "run"), Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, filepath.Join(dir, "run", "fake")
}

// trace returns and clears the commands the fake recorded.
func trace(t *testing.T, fake string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fake, "trace"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(fake, "trace"))
	return strings.Join(strings.Fields(string(b)), " ")
}

func TestRoleSwitches(t *testing.T) {
	r, fake := newFake(t)
	ctx := context.Background()
	if err := r.Status(ctx); err == nil {
		t.Error("Status before start = nil, want not started")
	}
	if _, err := r.RemoveStale(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := trace(t, fake), "daemon -n"; got != want {
		t.Errorf("standby at start: %q, want %q", got, want)
	}
	switchRole(t, r, fake, "takeover (primary-backup.sh primary)", r.Start, "-c -f -R -B")
	if err := r.Status(ctx); err != nil {
		t.Errorf("Status while running = %v", err)
	}
	switchRole(t, r, fake, "release (primary-backup.sh backup)", r.Stop, "-t -n")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := trace(t, fake), "term"; got != want {
		t.Errorf("close: %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(fake), "conntrackd.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("generated config left after Close: %v", err)
	}
}

// switchRole runs a role switch (r.Start or r.Stop), waits for the steps
// it left in the background and checks the commands the fake got since
// the last trace.
func switchRole(t *testing.T, r *Resource, fake, what string, switchTo func(context.Context) error, want string) {
	t.Helper()
	if err := switchTo(context.Background()); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	waitBackground(r)
	if got := trace(t, fake); got != want {
		t.Errorf("%s: commands %q, want %q", what, got, want)
	}
}

// waitTraced waits until the fake has recorded op, which may still run
// (held).
func waitTraced(fake, op string) {
	testkit.Poll(func() bool {
		b, _ := os.ReadFile(filepath.Join(fake, "trace"))
		return strings.Contains(string(b), op)
	})
}

// waitBackground waits until the steps after the last Start's commit
// have ended.
func waitBackground(r *Resource) {
	r.mu.Lock()
	a := r.after
	r.mu.Unlock()
	if a != nil {
		<-a.done
	}
}

// TestStartReturnsAfterTheCommit: the flush, resync and bulk send do not
// hold the takeover (the VIP follows the commit), and a release at once
// ends them before it takes the backup role.
func TestStartReturnsAfterTheCommit(t *testing.T) {
	r, fake := newFake(t)
	ctx := context.Background()
	os.MkdirAll(fake, 0o700)
	os.WriteFile(filepath.Join(fake, "hold-f"), nil, 0o600)
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitTraced(fake, "-f") // running (a child process) and held
	r.mu.Lock()
	a := r.after
	r.mu.Unlock()
	select {
	case <-a.done:
		t.Fatal("the steps after the commit ended while -f is held")
	default:
	}
	switchRole(t, r, fake, "takeover then release during -f (the release ends the takeover's steps)", r.Stop, "daemon -c -f -t -n")
	os.Remove(filepath.Join(fake, "hold-f"))
	switchRole(t, r, fake, "second takeover", r.Start, "-c -f -R -B")
}

// TestStopReturnsBeforeItsSteps: the release does not wait for -t and
// -n (the peer's takeover waits for the release), and a takeover here
// during them ends them before it commits.
func TestStopReturnsBeforeItsSteps(t *testing.T) {
	r, fake := newFake(t)
	ctx := context.Background()
	switchRole(t, r, fake, "takeover", r.Start, "daemon -c -f -R -B")
	os.WriteFile(filepath.Join(fake, "hold-t"), nil, 0o600)
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop waited for the held -t")
	}
	waitTraced(fake, "-t")
	switchRole(t, r, fake, "release then takeover during -t (the takeover ends the release's steps: no -n)", r.Start, "-t -c -f -R -B")
	os.Remove(filepath.Join(fake, "hold-t"))
}

func TestCommitFailureFailsTakeover(t *testing.T) {
	r, fake := newFake(t)
	os.MkdirAll(fake, 0o700)
	os.WriteFile(filepath.Join(fake, "fail-c"), nil, 0o600)
	err := r.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "committing the external cache") || !strings.Contains(err.Error(), "failed -c") {
		t.Fatalf("Start = %v, want the commit failure with conntrackd's output", err)
	}
	os.WriteFile(filepath.Join(fake, "fail-n"), nil, 0o600)
	if err := r.Stop(context.Background()); err != nil {
		t.Errorf("Stop with a failing -n = %v, want nil (the release goes on)", err)
	}
}

func TestDaemonExitIsResourceFailure(t *testing.T) {
	r, fake := newFake(t)
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(fake, "die"), nil, 0o600)
	var err error
	testkit.Poll(func() bool { err = r.Status(ctx); return err != nil }) // a real child process's exit
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Status after the daemon died = %v, want its exit status and output", err)
	}
	os.Remove(filepath.Join(fake, "die"))
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start after a crash = %v, want a restarted daemon", err)
	}
	if got := trace(t, fake); !strings.Contains(got, "daemon -c") {
		t.Errorf("trace after restart: %q, want a new daemon then -c", got)
	}
}

// A daemon that exits at start fails the start with its exit and output,
// and one that never answers on its control socket is stopped (SIGTERM,
// in trace) after ReadyTimeout; neither is kept as the running one.
func TestDaemonStartFailures(t *testing.T) {
	// A daemon that exits ends the ready wait at once, so diestart's
	// timeout only has to outlast a loaded machine's fork and exec of
	// the fake (200ms did not, at load 19: the wait timed out first).
	for _, tc := range []struct {
		steer string
		ready time.Duration
		want  string
		trace string
	}{
		{"diestart", 30 * time.Second, `conntrack-sync: conntrackd exited before it answered: exit status 2: output "cannot bind"`, "daemon"},
		{"silent", 200 * time.Millisecond, "conntrack-sync: conntrackd not answering after 200ms (stopped): conntrackd -s: exit status 1", "daemon term"},
	} {
		t.Run(tc.steer, func(t *testing.T) {
			r, fake := newFake(t)
			r.cfg.ReadyTimeout = tc.ready
			os.MkdirAll(fake, 0o700)
			os.WriteFile(filepath.Join(fake, tc.steer), nil, 0o600)
			err := r.Start(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Start = %v, want it to start %q", err, tc.want)
			}
			if got := trace(t, fake); got != tc.trace {
				t.Errorf("trace after the failed start: %q, want %q", got, tc.trace)
			}
			if err := r.Status(context.Background()); err == nil || err.Error() != "conntrack-sync: conntrackd not started" {
				t.Errorf("Status after the failed start = %v, want not started", err)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	ok := Config{Interface: "eth1", Local: netip.MustParseAddr("198.18.1.11"), Peer: netip.MustParseAddr("198.18.1.12"),
		Dir: "/run/x", Binary: "/bin/sh"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"hex iface", func(c *Config) { c.Interface = "d0" }, "reads it as a number"},
		{"space", func(c *Config) { c.Interface = "eth 1" }, "cannot name it"},
		{"no iface", func(c *Config) { c.Interface = "" }, "interface is required"},
		{"ipv6", func(c *Config) { c.Peer = netip.MustParseAddr("2001:db8::1") }, "want IPv4"},
		{"same", func(c *Config) { c.Peer = c.Local }, "both"},
		{"dir", func(c *Config) { c.Dir = "run" }, "absolute"},
		{"dir with a space", func(c *Config) { c.Dir = "/run/ha pair" }, `"/run/ha pair": conntrackd.conf cannot name a path with a space`},
		{"binary", func(c *Config) { c.Binary = "/nonexistent/conntrackd" }, "apt-get install conntrackd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if _, err := New(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := New(Config{Interface: "eth1", Local: ok.Local, Peer: ok.Peer, Dir: "/run/x", Binary: "/nonexistent"}); !errors.Is(err, ErrNoConntrackd) {
		t.Errorf("missing binary: %v, want ErrNoConntrackd", err)
	}
}

func TestConf(t *testing.T) {
	c := conf(Config{Interface: "eth1", Local: netip.MustParseAddr("198.18.1.11"), Peer: netip.MustParseAddr("198.18.1.12"),
		Port: 3780, Dir: "/run/hapair/ct"})
	testkit.Substrings(t, "config", c, []string{"Mode FTFW", "DisableExternalCache Off", "IPv4_address 198.18.1.11", "IPv4_Destination_Address 198.18.1.12",
		"Port 3780", "Interface eth1", "LockFile /run/hapair/ct/lock", "Path /run/hapair/ct/ctl"}, nil)
}
