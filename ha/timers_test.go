package ha_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/field"
)

const ms = time.Millisecond

func pair(k, w, d, i time.Duration) ha.Config {
	return ha.Config{Nodes: []string{"lb1", "lb2"}, Groups: []ha.GroupConfig{{Name: "web"}},
		Keepalive: k, Warntime: w, Deadtime: d, Initdead: i}
}

// timerErrors is Validate's errors about the four ruled timers, as
// "path: message".
func timerErrors(c ha.Config) []string {
	var out []string
	for _, fe := range field.All(c.Validate()) {
		if slices.Contains([]string{"keepalive", "warntime", "deadtime", "initdead"}, fe.Path) {
			out = append(out, fe.Path+": "+fe.Msg)
		}
	}
	return out
}

// TestDeadtimeBoundary: heartbeats arrive every keepalive plus the
// sender's wake-up delay, so at deadtime = 2×keepalive the heartbeat after
// a single lost one comes just after the deadline; Validate refuses it,
// and accepts anything longer.
func TestDeadtimeBoundary(t *testing.T) {
	got := timerErrors(pair(200*ms, 300*ms, 400*ms, 0))
	want := []string{"deadtime: 400ms must be longer than 2×keepalive (400ms): at 2×keepalive or less a single lost heartbeat declares the peer dead"}
	if !slices.Equal(got, want) {
		t.Errorf("Validate(keepalive 200ms, deadtime 400ms) timer errors = %q, want %q", got, want)
	}
	if got := timerErrors(pair(200*ms, 300*ms, 400*ms+time.Microsecond, 0)); got != nil {
		t.Errorf("Validate(keepalive 200ms, deadtime 400.001ms) timer errors = %q, want none", got)
	}
	if got := timerErrors(pair(0, 0, 0, 0)); got != nil {
		t.Errorf("Validate(default timers) timer errors = %q, want none", got)
	}
}

func TestRepairTimers(t *testing.T) {
	tests := []struct {
		name       string
		in         ha.Config
		k, w, d, i time.Duration // wanted timers after the repair (0: left unset)
		want       []string      // "timer was->now: reason (how)"
	}{
		{name: "Heartbeat ha.cf in an order hapair refuses", in: pair(2*time.Second, 10*time.Second, 3*time.Second, time.Second),
			k: 2 * time.Second, w: 4 * time.Second, d: 6 * time.Second, i: 6 * time.Second,
			want: []string{
				"deadtime 3s->6s: deadtime 3s must be longer than 2×keepalive (4s): at 2×keepalive or less a single lost heartbeat declares the peer dead (3×keepalive, the shortest that rides out one lost heartbeat)",
				"warntime 10s->4s: deadtime 6s must be longer than warntime 10s (halfway between keepalive and deadtime)",
				"initdead 1s->6s: initdead 1s is shorter than deadtime 6s: a starting node would take groups before it could hear its peers (deadtime, the least a starting node must wait for its peers)",
			}},
		{name: "deadtime exactly 2×keepalive; the rest unset stays unset", in: pair(500*ms, 0, time.Second, 0),
			k: 500 * ms, d: 1500 * ms,
			want: []string{"deadtime 1s->1.5s: deadtime 1s must be longer than 2×keepalive (1s): at 2×keepalive or less a single lost heartbeat declares the peer dead (3×keepalive, the shortest that rides out one lost heartbeat)"}},
		{name: "warntime at keepalive", in: pair(100*ms, 100*ms, 0, 0),
			k: 100 * ms, w: 250 * ms,
			want: []string{"warntime 100ms->250ms: warntime 100ms must be longer than keepalive 100ms (halfway between keepalive and deadtime)"}},
		{name: "a valid set is kept", in: pair(100*ms, 150*ms, 210*ms, 210*ms), k: 100 * ms, w: 150 * ms, d: 210 * ms, i: 210 * ms},
		{name: "all unset", in: pair(0, 0, 0, 0)},
		{name: "a keepalive Validate refuses is left to Validate", in: pair(2*wire.MaxKeepalive, 0, time.Second, 0),
			k: 2 * wire.MaxKeepalive, d: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, reps := tc.in.RepairTimers()
			var got []string
			for _, r := range reps {
				got = append(got, r.Timer+" "+r.Was.String()+"->"+r.Now.String()+": "+r.Reason+" ("+r.How+")")
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("RepairTimers() repairs =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if out.Keepalive != tc.k || out.Warntime != tc.w || out.Deadtime != tc.d || out.Initdead != tc.i {
				t.Errorf("RepairTimers() keepalive/warntime/deadtime/initdead = %v/%v/%v/%v, want %v/%v/%v/%v",
					out.Keepalive, out.Warntime, out.Deadtime, out.Initdead, tc.k, tc.w, tc.d, tc.i)
			}
		})
	}
}

// TestRepairTimersValidates: whatever order a whole-millisecond set of
// timers is in, the repaired set passes Validate's timer rules.
func TestRepairTimersValidates(t *testing.T) {
	vals := []time.Duration{0, 1 * ms, 50 * ms, 99 * ms, 100 * ms, 101 * ms, 150 * ms, 199 * ms, 200 * ms, 201 * ms, 300 * ms, 400 * ms, time.Second, 5 * time.Second}
	n := 0
	for _, k := range vals {
		for _, w := range vals {
			for _, d := range vals {
				for _, i := range vals {
					out, reps := pair(k, w, d, i).RepairTimers()
					if errs := timerErrors(out); errs != nil {
						t.Fatalf("RepairTimers(keepalive %v, warntime %v, deadtime %v, initdead %v) = %v/%v/%v/%v (repairs %+v), which Validate refuses: %q",
							k, w, d, i, out.Keepalive, out.Warntime, out.Deadtime, out.Initdead, reps, errs)
					}
					n += len(reps)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("RepairTimers repaired nothing over the grid")
	}
}

// TestValidateWithUnknownTimers: a timer written but unreadable (0 here)
// is no default to compare the others with; one out of a packet's range
// neither, and the unset timers derived from either are not compared.
func TestValidateWithUnknownTimers(t *testing.T) {
	tests := []struct {
		name    string
		c       ha.Config
		unknown []string
		want    []string
	}{
		{"deadtime beside an unreadable keepalive", pair(0, 0, 150*ms, 0), []string{"keepalive"}, nil},
		{"the same against the default keepalive", pair(0, 0, 150*ms, 0), nil,
			[]string{"deadtime: 150ms must be longer than 2×keepalive (200ms): at 2×keepalive or less a single lost heartbeat declares the peer dead"}},
		{"initdead beside an unreadable deadtime", pair(0, 0, 0, ms), []string{"deadtime"}, nil},
		{"two readable timers still compared", pair(0, 2000*ms, 1000*ms, 0), []string{"keepalive"},
			[]string{"deadtime: 1s must be longer than warntime 2s"}},
		{"deadtime beside a keepalive too long, warntime derived", pair(1000*time.Hour, 0, 2000*ms, 0), nil,
			[]string{"keepalive: 1000h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries"}},
		{"a keepalive whose derived timers wrap around is one error", pair(1000000*time.Hour, 0, 0, 0), nil,
			[]string{"keepalive: 1000000h0m0s is longer than 1h11m34.967295s, the most a heartbeat packet carries"}},
		{"warntime beyond the default deadtime is warntime's", pair(0, 1000*time.Hour, 0, 0), nil,
			[]string{"warntime: 1000h0m0s must be shorter than deadtime 400ms (unset: 4×keepalive)"}},
		{"warntime beyond a deadtime derived from a written keepalive is warntime's", pair(100*ms, 5000*ms, 0, 0), nil,
			[]string{"warntime: 5s must be shorter than deadtime 400ms (unset: 4×keepalive)"}},
		{"initdead below a derived deadtime says how it was derived", pair(100*ms, 0, 0, 300*ms), nil,
			[]string{"initdead: 300ms is shorter than deadtime 400ms (unset: 4×keepalive): a starting node would take groups before it could hear its peers"}},
		{"a deadtime whose derived timers wrap around is one error", pair(0, 0, 1500000*time.Hour, 0), nil,
			[]string{"deadtime: 1500000h0m0s is longer than 1000000h0m0s, the most hapair takes (initdead and failback_hold default to 2×deadtime)"}},
		{"the longest deadtime is taken", pair(0, 0, ha.MaxDeadtime, 0), nil, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, fe := range field.All(tt.c.ValidateWith(tt.unknown...)) {
			got = append(got, fe.Path+": "+fe.Msg)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: ValidateWith(%q) = %q, want %q", tt.name, tt.unknown, got, tt.want)
		}
	}
}
