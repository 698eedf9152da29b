package check

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

func TestMonitorRun(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		body   string
		res    MonitorResult
		detail string
	}{
		{"ok", "echo OK", MonitorOK, "OK"},
		{"fail", "echo 'FAIL replication lag 40s'; exit 0", MonitorFail, "FAIL replication lag 40s"},
		{"fail with exit 1", "echo FAIL; exit 1", MonitorFail, "FAIL"},
		{"garbage", "echo maybe", MonitorError, `printed "maybe", want OK or FAIL`},
		{"silent", "true", MonitorError, `printed "", want OK or FAIL`},
		{"exit 2", "echo 'cannot reach db' >&2; exit 2", MonitorError, "exit status 2: cannot reach db"},
		{"ok but exit 1", "echo OK; exit 1", MonitorError, "exit status 1: OK"},
		{"timeout", "sleep 30", MonitorTimeout, "timeout after 300ms"},
		{"args", `[ "$1" = SERVER=db ] && echo OK || echo "FAIL args $*"`, MonitorOK, "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Monitor{Program: testkit.WriteScript(t, dir, strings.ReplaceAll(tt.name, " ", "_"), tt.body), Args: []string{"SERVER=db"}, Interval: time.Second, Timeout: 300 * time.Millisecond}
			res, detail := m.Run(context.Background())
			if res != tt.res || detail != tt.detail {
				t.Errorf("Run() = %v, %q, want %v, %q", res, detail, tt.res, tt.detail)
			}
		})
	}
	res, detail := Monitor{Program: filepath.Join(dir, "missing")}.Run(context.Background())
	if res != MonitorError || !strings.Contains(detail, "no such file") {
		t.Errorf("Run(missing) = %v, %q, want error naming the cause", res, detail)
	}
}

type switchEvent struct {
	backup bool
	reason string
}

func TestMonitorSetObserve(t *testing.T) {
	var got []switchEvent
	s := NewMonitorSet([]Monitor{{Program: "/bin/db"}, {Program: "/bin/nfs"}}, func(b bool, r string) {
		got = append(got, switchEvent{b, r})
	})
	steps := []struct {
		i      int
		res    MonitorResult
		detail string
	}{
		{0, MonitorOK, "OK"},                     // still primary: no call
		{1, MonitorFail, "FAIL nfs stale"},       // -> backup
		{0, MonitorTimeout, "timeout after 5s"},  // already backup: no call
		{1, MonitorOK, "OK"},                     // db still timing out: stay
		{0, MonitorOK, "OK"},                     // all OK -> primary
		{0, MonitorError, "exit status 2: boom"}, // -> backup
		{9, MonitorFail, ""},                     // unknown index: ignored
	}
	for _, st := range steps {
		s.Observe(st.i, st.res, st.detail)
	}
	want := []switchEvent{
		{true, "monitor /bin/nfs: FAIL nfs stale"},
		{false, "all monitors OK"},
		{true, "monitor /bin/db: error: exit status 2: boom"},
	}
	if len(got) != len(want) {
		t.Fatalf("onSwitch calls = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("onSwitch call %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if b, r := s.UsingBackup(); !b || r != want[2].reason {
		t.Errorf("UsingBackup() = %v, %q, want true, %q", b, r, want[2].reason)
	}
}

// TestMonitorSetRun drives real monitor programs that read a state file.
func TestMonitorSetRun(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	setState := func(s string) { // atomically: a monitor must never read a half-written file
		tmp := state + ".tmp"
		if err := os.WriteFile(tmp, []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, state); err != nil {
			t.Fatal(err)
		}
	}
	setState("OK")
	prog := testkit.WriteScript(t, dir, "mon", "cat "+state)
	always := testkit.WriteScript(t, dir, "always", "echo OK")
	events := make(chan switchEvent, 8)
	s := NewMonitorSet([]Monitor{
		{Program: prog, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second},
		{Program: always, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second},
	}, func(b bool, r string) { events <- switchEvent{b, r} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	clk := clocktest.New(time.Time{})
	go func() { s.Run(ctx, clk); close(done) }()
	defer func() { cancel(); <-done }()

	next := func() switchEvent {
		t.Helper()
		return testkit.Receive(t, clk, 10*time.Millisecond, "a pool switch", events) // one interval a poll
	}
	setState("FAIL master db down")
	if e := next(); e != (switchEvent{true, "monitor " + prog + ": FAIL master db down"}) {
		t.Errorf("switch = %+v, want to backup with the monitor's output", e)
	}
	setState("OK")
	if e := next(); e != (switchEvent{false, "all monitors OK"}) {
		t.Errorf("switch = %+v, want back to primary", e)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
