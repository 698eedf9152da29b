package bgp

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/realtime"
	"github.com/hapair/hapair/internal/testkit"
)

// TestMain lets the test binary stand in for BIRD: with HAPAIR_FAKE_BIRD
// set to a log path it serves the control socket given by -s, answers
// every command like BIRD, appends each to the log, and exits on "down".
func TestMain(m *testing.M) {
	if logPath := os.Getenv("HAPAIR_FAKE_BIRD"); logPath != "" {
		os.Exit(fakeBird(logPath, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeBird(logPath string, args []string) int {
	i := slices.Index(args, "-s")
	if i < 0 || i+1 >= len(args) {
		fmt.Fprintln(os.Stderr, "fake bird: no -s")
		return 2
	}
	ln, err := net.Listen("unix", args[i+1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		c.Write([]byte("0001 BIRD 2.0.12 ready.\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		cmd := strings.TrimSpace(line)
		if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintln(f, cmd)
			f.Close()
		}
		switch {
		case cmd == "down":
			c.Write([]byte("0013 Shutdown requested\n"))
			c.Close()
			return 0
		case strings.HasPrefix(cmd, "enable "):
			c.Write([]byte("0011 " + strings.TrimPrefix(cmd, "enable ") + ": enabled\n"))
		case strings.HasPrefix(cmd, "disable "):
			c.Write([]byte("0009 " + strings.TrimPrefix(cmd, "disable ") + ": disabled\n"))
		default:
			c.Write([]byte("0013 Daemon is up and running\n"))
		}
		c.Close()
	}
}

// fakeLo records loopback changes.
type fakeLo struct {
	mu    sync.Mutex
	trace []string
}

func (l *fakeLo) add(s string) { l.mu.Lock(); l.trace = append(l.trace, s); l.mu.Unlock() }
func (l *fakeLo) AddrAdd(p netip.Prefix) (bool, error) {
	l.add("add " + p.String())
	return true, nil
}
func (l *fakeLo) AddrDel(p netip.Prefix) error { l.add("del " + p.String()); return nil }
func (l *fakeLo) RemoveOwned(p netip.Prefix) (bool, error) {
	l.add("remove-owned " + p.String())
	return false, nil
}

// TestResource: Start binds on lo and announces; a failing gate
// withdraws, a passing one announces again; Stop withdraws and unbinds;
// Close stops BIRD with down.
func TestResource(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "commands")
	t.Setenv("HAPAIR_FAKE_BIRD", logPath)
	s, err := NewSpeaker(testOpts, filepath.Join(dir, "bird"), exe, nil)
	if err != nil {
		t.Fatal(err)
	}
	var healthy atomic.Bool
	healthy.Store(true)
	lo := &fakeLo{}
	r, err := s.Resource(ResourceConfig{Group: "web", Addresses: []netip.Addr{netip.MustParseAddr("198.18.2.100")},
		Healthy: healthy.Load, GateInterval: 5 * time.Millisecond, Loopback: lo})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	if err := r.Status(ctx); err != nil {
		t.Errorf("Status() = %v after Start", err)
	}
	// BIRD writes its log, named relative in its config, in its own dir.
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", s.proc.Pid())); err != nil || cwd != filepath.Join(dir, "bird") {
		t.Errorf("BIRD's working directory = %q, %v; want %s", cwd, err, filepath.Join(dir, "bird"))
	}
	proto := protocolName("web")
	commands := func() string {
		b, _ := os.ReadFile(logPath)
		return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")
	}
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if strings.HasSuffix(commands(), want) {
				return
			}
		}
		t.Fatalf("commands = %q, want them to end with %q", commands(), want)
	}
	waitFor("enable " + proto)
	healthy.Store(false)
	waitFor("enable " + proto + "; disable " + proto)
	healthy.Store(true)
	waitFor("disable " + proto + "; enable " + proto)
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	waitFor("enable " + proto + "; disable " + proto)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := commands(); !strings.HasPrefix(got, "show status") || !strings.HasSuffix(got, "disable "+proto+"; down") {
		t.Errorf("commands = %q, want show status ... disable, down", got)
	}
	if err := s.Running(); err == nil {
		t.Error("Running() = nil after Close")
	}
	if got, want := strings.Join(lo.trace, "; "), "add 198.18.2.100/32; del 198.18.2.100/32"; got != want {
		t.Errorf("loopback trace = %q, want %q", got, want)
	}
}

// TestSpeakerRealtime: with Options.Realtime BIRD runs at SCHED_RR
// realtime.Priority where the kernel allows it (root or CAP_SYS_NICE), on
// every thread (BIRD 2 runs BFD on a thread of its own; the fake BIRD,
// this test binary, runs Go's), without reset on fork; elsewhere it runs
// at normal priority and a warning says so.
func TestSpeakerRealtime(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv("HAPAIR_FAKE_BIRD", filepath.Join(dir, "commands"))
	var logged strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logged.Write(b)
	}), nil))
	o := testOpts
	o.Realtime = true
	s, err := NewSpeaker(o, filepath.Join(dir, "bird"), exe, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	defer s.Close()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.proc.Pid()))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("the fake BIRD's threads: %v (%d), want Go's several", err, len(tasks))
	}
	mu.Lock()
	warned := strings.Contains(logged.String(), "BIRD runs at normal priority")
	mu.Unlock()
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			t.Fatal(err)
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case attr.Policy == unix.SCHED_RR:
			if attr.Priority != realtime.Priority || attr.Flags&unix.SCHED_FLAG_RESET_ON_FORK != 0 || warned {
				t.Errorf("BIRD's thread %d scheduling = %+v, warned %v; want SCHED_RR priority %d, no reset on fork, no warning", tid, attr, warned, realtime.Priority)
			}
		case os.Geteuid() == 0:
			t.Errorf("BIRD's thread %d policy = %d as root, want SCHED_RR", tid, attr.Policy)
		case !warned:
			t.Errorf("BIRD's thread %d policy = %d and no warning; log:\n%s", tid, attr.Policy, logged.String())
		}
	}
	// The thread that forked BIRD is the one set to SCHED_RR, not had's
	// calling thread.
	if attr, err := unix.SchedGetAttr(0, 0); err != nil || attr.Policy != unix.SCHED_NORMAL {
		t.Errorf("the caller's thread scheduling = %+v %v, want SCHED_NORMAL", attr, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestSpeakerBIRDExitsAtStart: a BIRD that exits before its control
// socket answers fails Start, naming its exit and its log, and is not
// kept as the running one.
func TestSpeakerBIRDExitsAtStart(t *testing.T) {
	dir := t.TempDir()
	bin := testkit.WriteScript(t, dir, "bird", `echo "bird: cannot read config"; exit 1`)
	s, err := NewSpeaker(testOpts, filepath.Join(dir, "bird.d"), bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := `bgp: BIRD exited at start (exit status 1: output "bird: cannot read config"); its log: ` + filepath.Join(dir, "bird.d", "bird.log")
	if err := s.Start(context.Background()); err == nil || err.Error() != want {
		t.Errorf("Start() = %v, want %s", err, want)
	}
	if err := s.Running(); err == nil || err.Error() != "bgp: BIRD not started" {
		t.Errorf("Running() after a failed start = %v, want not started", err)
	}
}
