package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/internal/testkit"
)

// drainDaemon answers the drain verbs with the given "check" answers in
// turn (the last one repeating) and a standby with moveErr or success, and
// records the requests it saw.
type drainDaemon struct {
	mu      sync.Mutex
	checks  []ctl.DrainState
	moveErr error
	// startErr is had's refusal of the drain's start.
	startErr error
	// moveTook is how long the standby takes (had waits for resources).
	moveTook time.Duration
	seen     []string // verb/action
}

func (d *drainDaemon) start(t *testing.T) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "had.sock")
	ln, err := ctl.Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := ctl.Serve(ln, func(_ context.Context, req ctl.Request) (any, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		seen := strings.TrimSuffix(req.Verb+"/"+req.Action, "/")
		if req.Drain {
			seen += "(drain)" // the move of a drained group: had holds SYNs
		}
		d.seen = append(d.seen, seen)
		switch {
		case req.Verb == ctl.VerbDrain && req.Action == "start":
			if d.startErr != nil {
				return nil, d.startErr
			}
			return d.checks[0], nil
		case req.Verb == ctl.VerbDrain && req.Action == "check":
			st := d.checks[0]
			if len(d.checks) > 1 {
				d.checks = d.checks[1:]
			}
			return st, nil
		case req.Verb == ctl.VerbDrain && req.Action == "cancel":
			return ctl.DrainState{Groups: []string{"web"}}, nil
		case req.Verb == ctl.VerbStandby:
			time.Sleep(d.moveTook) // the daemon's own work: part of the scenario
			if d.moveErr != nil {
				return nil, d.moveErr
			}
			return "standby: group web released to the peer", nil
		}
		return nil, errors.New("unexpected verb " + req.Verb)
	}, nil)
	t.Cleanup(func() { srv.Close() })
	return socket
}

func (d *drainDaemon) requests() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.seen, " ")
}

func TestStandbyDrain(t *testing.T) {
	web := func(waiting string, open int64) ctl.DrainState {
		return ctl.DrainState{Groups: []string{"web"}, Services: []string{"http"}, Open: open, PeersSynced: true, Waiting: waiting}
	}
	open1 := web("1 connection(s) or request(s) open", 1)
	open2 := web("2 connection(s) or request(s) open", 2)
	ready := web("", 0)
	tests := []struct {
		name     string
		checks   []ctl.DrainState
		moveErr  error
		moveTook time.Duration
		timeout  string
		code     int
		want     []string
		notWant  []string
		requests string
		slowest  time.Duration
	}{
		// had leaves "waiting" out of the answer once nothing is pending:
		// hactl must see that, not keep the last text until the timeout.
		{"waits, then ready", []ctl.DrainState{open1, open1, ready}, nil, 0, "20s", exitOK,
			[]string{"draining [web] (services [http]): waiting for 1 connection(s)", "ready to move", "released to the peer"},
			[]string{"moving anyway"}, "drain/start drain/check drain/check drain/check standby(drain)", 5 * time.Second},
		// Counts that change at every poll print once a second, not at
		// every poll.
		{"quiet progress", []ctl.DrainState{open1, open2, open1, open2, ready}, nil, 0, "20s", exitOK,
			[]string{"waiting for 1 connection(s)", "ready to move"}, []string{"waiting for 2"}, "", 5 * time.Second},
		{"ready at once", []ctl.DrainState{ready}, nil, 0, "20s", exitOK,
			[]string{"ready to move", "released to the peer"}, []string{"waiting"}, "drain/start standby(drain)", 5 * time.Second},
		{"timeout moves anyway", []ctl.DrainState{open1}, nil, 0, "200ms", exitOK,
			[]string{"drain timeout 200ms passed with 1 connection(s) or request(s) open: moving anyway", "released to the peer"},
			nil, "", 5 * time.Second},
		{"refused move lifts the drain", []ctl.DrainState{ready}, errors.New("standby of web refused: no live peer can hold it"), 0, "20s", exitFail,
			[]string{"ready to move"}, nil, "drain/start standby(drain) drain/cancel", 5 * time.Second},
		// --timeout bounds the drain, not had's answers: a move that takes
		// longer than the drain's bound (had stopping resources) is waited
		// for with the move's own default.
		{"move slower than the drain timeout", []ctl.DrainState{open1}, nil, 500 * time.Millisecond, "100ms", exitOK,
			[]string{"moving anyway", "released to the peer"}, nil, "", 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &drainDaemon{checks: tc.checks, moveErr: tc.moveErr, moveTook: tc.moveTook}
			socket := d.start(t)
			begin := time.Now()
			code, out, errOut := runHactl("standby", "-s", socket, "--drain", "web", "--timeout", tc.timeout)
			took := time.Since(begin)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			testkit.Substrings(t, "stdout", out, tc.want, tc.notWant)
			if tc.requests != "" {
				if got := d.requests(); got != tc.requests {
					t.Errorf("requests to had: %s, want %s", got, tc.requests)
				}
			}
			if took > tc.slowest {
				t.Errorf("took %v", took)
			}
		})
	}
}

// A drain refused at its start is reported under the verb the user typed,
// standby, as a plain standby's refusal is (review 12b, 11), not under
// the drain verb hactl asks had with.
func TestStandbyDrainRefusedVerb(t *testing.T) {
	d := &drainDaemon{startErr: errors.New("standby of web refused: lb2 is in maintenance and will not take it")}
	code, out, errOut := runHactl("standby", "-s", d.start(t), "--drain", "web")
	want := "hactl: standby: standby of web refused: lb2 is in maintenance and will not take it\n"
	if code != exitFail || errOut != want || out != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d and stderr %q", code, out, errOut, exitFail, want)
	}
}

// An interrupted drain (Ctrl-C, SIGTERM) is lifted and nothing moves.
func TestStandbyDrainInterrupted(t *testing.T) {
	d := &drainDaemon{checks: []ctl.DrainState{{Groups: []string{"web"}, Services: []string{"http"}, Open: 1, Waiting: "1 connection(s) or request(s) open"}}}
	had := target{socket: d.start(t), timeout: queryTimeout}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut strings.Builder
	code := drainGroup(ctx, &out, &errOut, had, "web", time.Minute)
	if code != exitFail {
		t.Errorf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitFail, out.String(), errOut.String())
	}
	if want := "drain of [web] interrupted with 1 connection(s) or request(s) open: drain lifted, nothing moved"; !strings.Contains(out.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, out.String())
	}
	if got, want := d.requests(), "drain/start drain/cancel"; got != want {
		t.Errorf("requests to had: %s, want %s", got, want)
	}
}
