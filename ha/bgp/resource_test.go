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
// Its BGP sessions are Established, or in the state and info written in
// the file HAPAIR_FAKE_BIRD_SESSIONS names ("start Active").
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
	enabled := map[string]bool{} // static protocols: each holds one route here
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
			enabled[strings.TrimPrefix(cmd, "enable ")] = true
			c.Write([]byte("0011 " + strings.TrimPrefix(cmd, "enable ") + ": enabled\n"))
		case strings.HasPrefix(cmd, "disable "):
			delete(enabled, strings.TrimPrefix(cmd, "disable "))
			c.Write([]byte("0009 " + strings.TrimPrefix(cmd, "disable ") + ": disabled\n"))
		case cmd == "show protocols all":
			c.Write([]byte(fakeProtocols(os.Getenv("HAPAIR_FAKE_BIRD_SESSIONS"), len(enabled))))
		default:
			c.Write([]byte("0013 Daemon is up and running\n"))
		}
		c.Close()
	}
}

// fakeProtocols is BIRD 2.0.12's reply to `show protocols all` (the
// parts had reads) with the sessions in the state, and with the exported
// count, the file at path holds ("up Established 1"; Established without
// one), but never more routes exported than the enabled protocols hold
// (unless the count ends in "!").
func fakeProtocols(path string, enabled int) string {
	state, exported := "up     20:28:33.001  Established", enabled
	if b, err := os.ReadFile(path); err == nil {
		f := strings.Fields(string(b))
		if len(f) < 3 {
			// An answer, not a panic: a dead fake stops every later
			// question and the test would only see them stop.
			return fmt.Sprintf("9001 fake bird: sessions file %s holds %q, want \"<state> <BGP state> <exported>\"\n", path, b)
		}
		state = fmt.Sprintf("%-6s 20:28:33.001  %s", f[0], f[1])
		if e, err := strconv.Atoi(strings.TrimSuffix(f[2], "!")); err == nil {
			exported = min(e, enabled)
			if strings.HasSuffix(f[2], "!") {
				exported = e // a withdraw that is not sent
			}
		}
	}
	out := "2002-Name       Proto      Table      State  Since         Info\n" +
		"1002-device1    Device     ---        up     20:28:31.301  \n" +
		"1006-\n"
	for _, peer := range []string{"hapair_peer0", "hapair_peer1"} {
		out += "1002-" + peer + " BGP        ---        " + state + "\n" +
			"1006-  BGP state:          " + strings.Fields(state)[2] + "\n" +
			"     Neighbor address: 198.18.0.1\n" +
			"   Channel ipv4\n" +
			"     Routes:         0 imported, " + strconv.Itoa(exported) + " exported, 0 preferred\n" +
			" \n"
	}
	return out + "1002-" + protocolName("web") + " Static     master4    up     20:28:31.301  \n0000 \n"
}

// writeSessions replaces the fake BIRD's sessions file at path by a
// rename, so the fake, answering a question meanwhile, never reads it
// truncated (os.WriteFile truncates first; CI once caught the empty file
// and the fake died on it).
func writeSessions(path string, b []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
	s, logPath, _ := fakeSpeaker(t)
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
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", s.proc.Pid())); err != nil || cwd != s.dir {
		t.Errorf("BIRD's working directory = %q, %v; want %s", cwd, err, s.dir)
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
	waitFor("enable " + proto + "; show protocols all") // Start waits for the routes to go out
	healthy.Store(false)
	waitFor("show protocols all; disable " + proto)
	healthy.Store(true)
	waitFor("disable " + proto + "; enable " + proto)
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	waitFor("enable " + proto + "; disable " + proto + "; show protocols all") // Stop waits for the withdraw to go out
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := commands(); !strings.HasPrefix(got, "show status") || !strings.HasSuffix(got, "disable "+proto+"; show protocols all; down") {
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

// fakeSpeaker returns a Speaker whose BIRD is the fake (TestMain), the
// log of the commands it got, and the speaker's log; it is closed when t
// ends.
func fakeSpeaker(t *testing.T) (*Speaker, string, *testkit.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "commands")
	t.Setenv("HAPAIR_FAKE_BIRD", logPath)
	logged := &testkit.Buffer{}
	s, err := NewSpeaker(testOpts, filepath.Join(dir, "bird"), exe, slog.New(slog.NewTextHandler(logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logPath, logged
}

// TestResourceWaitsForSessions: Start returns only once every neighbour's
// session is Established and has exported the route (so a
// make-before-break move's old owner withdraws after the routers were
// sent this node's routes), and at most SessionWait later when they are
// not, with a warning naming them.
func TestResourceWaitsForSessions(t *testing.T) {
	sessions := filepath.Join(t.TempDir(), "sessions")
	t.Setenv("HAPAIR_FAKE_BIRD_SESSIONS", sessions)
	if err := writeSessions(sessions, []byte("start Active 0")); err != nil {
		t.Fatal(err)
	}
	s, logPath, logged := fakeSpeaker(t)
	addrs := []netip.Addr{netip.MustParseAddr("198.18.2.100")}
	r, err := s.Resource(ResourceConfig{Group: "web", Addresses: addrs, Loopback: &fakeLo{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	polls := func() int {
		b, _ := os.ReadFile(logPath)
		return strings.Count(string(b), "show protocols all\n")
	}
	// Active, then Established without the route (BIRD has not fed the
	// session yet): Start waits through 3 questions in each.
	for _, state := range []string{"start Active 0", "up Established 0"} {
		if err := writeSessions(sessions, []byte(state)); err != nil {
			t.Fatal(err)
		}
		n := polls()
		testkit.WaitFor(t, "Start asking BIRD 3 more times", func() bool { return polls() >= n+3 })
		select {
		case err := <-done:
			t.Fatalf("Start() = %v with sessions %q, want it to wait", err, state)
		default:
		}
	}
	if err := writeSessions(sessions, []byte("up Established 1")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Start() = %v", err)
		}
	case <-time.After(DefaultSessionWait):
		t.Fatal("Start() still waits after the sessions were established")
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// Never established: Start gives up after SessionWait and says so.
	if err := writeSessions(sessions, []byte("start Connect 0")); err != nil {
		t.Fatal(err)
	}
	r2, err := s.Resource(ResourceConfig{Group: "web", Addresses: addrs, Loopback: &fakeLo{}, SessionWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := r2.Start(ctx); err != nil {
		t.Fatalf("Start() = %v, want nil: the routes are enabled and go out when a session comes up", err)
	}
	if took := time.Since(began); took < 100*time.Millisecond {
		t.Errorf("Start() returned after %v, want it to wait SessionWait (100ms)", took)
	}
	defer r2.Stop(ctx)
	want := "waited=100ms err=\"bgp: BGP sessions without every route: hapair_peer0: start Connect; hapair_peer1: start Connect\""
	if !strings.Contains(logged.String(), want) {
		b, _ := os.ReadFile(logPath)
		t.Errorf("log = %s\nwant a warning with %q; BIRD's commands:\n%s", logged.String(), want, b)
	}
}

func TestNotExported(t *testing.T) {
	// BIRD 2.0.12's text, as birdc prints it (a router's sessions renamed).
	text := `Name       Proto      Table      State  Since         Info
device1    Device     ---        up     23:49:19.255  

kernel1    Kernel     master4    up     23:49:19.255  
  Channel ipv4
    State:          UP
    Routes:         0 imported, 5 exported, 0 preferred

hapair_peer0 BGP        ---        up     2026-11-29 20:28:31  Established   
  BGP state:          Established
    Neighbor address: 198.18.0.1
  Channel ipv4
    State:          UP
    Routes:         0 imported, 1 exported, 0 preferred
  Channel ipv6
    Routes:         0 imported, 1 exported, 0 preferred

hapair_peer1 BGP        ---        start  20:28:33.001  Active        Socket: Connection refused
  BGP state:          Active
  Channel ipv4
    Routes:         0 imported, 0 exported, 0 preferred

hapair_peer2 BGP        ---        up     23:49:23.622  Established   
  BGP state:          Established
  Channel ipv4
    Routes:         0 imported, 1 exported, 0 preferred
`
	got := strings.Join(notExported(text, 4, 2), "; ")
	want := "hapair_peer1: start Active Socket: Connection refused; hapair_peer2: 1 of 2 routes exported; hapair_peer3: not in BIRD's protocols"
	if got != want {
		t.Errorf("notExported() = %q, want %q", got, want)
	}
	if got := notExported(text, 1, 2); len(got) != 0 {
		t.Errorf("notExported(one neighbour, 2 routes) = %q, want none (ipv4 and ipv6 count)", got)
	}
	// A session down or missing holds no routes at its router.
	if got, want := strings.Join(notWithdrawn(text, 4, 1), "; "), "hapair_peer0: 2 routes exported, want 1"; got != want {
		t.Errorf("notWithdrawn(1 route left) = %q, want %q", got, want)
	}
	if got := notWithdrawn(text, 4, 2); len(got) != 0 {
		t.Errorf("notWithdrawn(2 routes left) = %q, want none", got)
	}
}

// TestResourceWaitsForGate: a Start whose health gate does not pass yet
// (a node that just started, its reals not checked) announces and returns
// once it passes, not before; past SessionWait it returns with the routes
// withdrawn, saying why, and the gate loop announces later.
func TestResourceWaitsForGate(t *testing.T) {
	s, logPath, logged := fakeSpeaker(t)
	var healthy atomic.Bool
	var asked atomic.Int32
	gate := func() bool { asked.Add(1); return healthy.Load() }
	addrs := []netip.Addr{netip.MustParseAddr("198.18.2.100")}
	r, err := s.Resource(ResourceConfig{Group: "web", Addresses: addrs, Loopback: &fakeLo{}, Healthy: gate, GateInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	testkit.WaitFor(t, "Start asking the health gate 3 times", func() bool { return asked.Load() >= 3 })
	commands := func() string {
		b, _ := os.ReadFile(logPath)
		return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")
	}
	select {
	case err := <-done:
		t.Fatalf("Start() = %v while the gate failed, want it to wait", err)
	default:
	}
	if got := commands(); strings.Contains(got, "enable") {
		t.Errorf("commands = %q before the gate passed, want no enable", got)
	}
	healthy.Store(true)
	if err := <-done; err != nil {
		t.Fatalf("Start() = %v", err)
	}
	if got, want := commands(), "enable "+protocolName("web")+"; show protocols all"; !strings.HasSuffix(got, want) {
		t.Errorf("commands = %q, want them to end with %q", got, want)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	healthy.Store(false)
	r2, err := s.Resource(ResourceConfig{Group: "web", Addresses: addrs, Loopback: &fakeLo{}, Healthy: gate, GateInterval: 5 * time.Millisecond, SessionWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Start(ctx); err != nil {
		t.Fatalf("Start() = %v with a failing gate, want nil", err)
	}
	defer r2.Stop(ctx)
	if got, want := commands(), "disable "+protocolName("web"); !strings.HasSuffix(got, want) {
		t.Errorf("commands = %q, want them to end with %q", got, want)
	}
	testkit.Substrings(t, "log", logged.String(), []string{"health gate does not pass after 50ms"}, nil)
}

// TestResourceStopSettles: Stop withdraws and then keeps the node serving
// until BIRD has sent the withdraw and no flow has arrived for
// WithdrawQuiet (the routers moved them away), WithdrawSettle at most,
// saying why when the bound ends it; a resource whose routes were not
// announced (a failed gate) stops at once.
func TestResourceStopSettles(t *testing.T) {
	sessions := filepath.Join(t.TempDir(), "sessions")
	t.Setenv("HAPAIR_FAKE_BIRD_SESSIONS", sessions)
	s, logPath, logged := fakeSpeaker(t)
	addrs := []netip.Addr{netip.MustParseAddr("198.18.2.100")}
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		sessions string
		flows    int64 // arrivals after the withdraw; -1: they never stop
		healthy  bool
		want     string
		minTook  time.Duration
	}{
		{name: "flows stop", sessions: "up Established 1", flows: 10, healthy: true, want: "bgp: flows moved away after the withdraw", minTook: 50 * time.Millisecond},
		{name: "flows go on", sessions: "up Established 1", flows: -1, healthy: true, want: "bgp: stopping while the routers still send flows here", minTook: 300 * time.Millisecond},
		{name: "withdraw not sent", sessions: "up Established 1!", healthy: true, want: `err="bgp: withdraw still exported: hapair_peer0: 1 routes exported, want 0; hapair_peer1: 1 routes exported, want 0"`, minTook: 300 * time.Millisecond},
		{name: "not announced", sessions: "up Established 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := writeSessions(sessions, []byte(tc.sessions)); err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int64
			arrivals := func() uint64 {
				n := calls.Add(1)
				if tc.flows >= 0 {
					n = min(n, tc.flows)
				}
				return uint64(n)
			}
			r, err := s.Resource(ResourceConfig{Group: "web", Addresses: addrs, Loopback: &fakeLo{}, Arrivals: arrivals,
				Healthy: func() bool { return tc.healthy }, SessionWait: 50 * time.Millisecond,
				WithdrawQuiet: 50 * time.Millisecond, WithdrawSettle: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Start(ctx); err != nil {
				t.Fatal(err)
			}
			logBefore := len(logged.String())
			before, _ := os.ReadFile(logPath)
			began := time.Now()
			if err := r.Stop(ctx); err != nil {
				t.Fatalf("Stop() = %v", err)
			}
			took := time.Since(began)
			after, _ := os.ReadFile(logPath)
			commands := strings.ReplaceAll(strings.TrimSpace(string(after[len(before):])), "\n", "; ")
			if tc.want == "" {
				if commands != "disable "+protocolName("web") || took > 50*time.Millisecond {
					t.Errorf("Stop of routes not announced: BIRD got %q, took %v; want the disable alone, at once", commands, took)
				}
				return
			}
			if !strings.HasPrefix(commands, "disable "+protocolName("web")+"; show protocols all") {
				t.Errorf("Stop: BIRD got %q, want the disable and then the question whether it went out", commands)
			}
			if took < tc.minTook || took > 5*time.Second {
				t.Errorf("Stop took %v, want at least %v", took, tc.minTook)
			}
			if tc.flows > 0 && calls.Load() < tc.flows {
				t.Errorf("Arrivals asked %d times, want Stop to wait while they moved (%d)", calls.Load(), tc.flows)
			}
			testkit.Substrings(t, "log", logged.String()[logBefore:], []string{tc.want}, nil)
		})
	}
}
