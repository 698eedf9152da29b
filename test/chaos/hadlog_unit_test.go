package chaos

import (
	"slices"
	"testing"
	"time"
)

// TestSettled checks the heal figure read from had's log lines (no root,
// no lab: it runs in `make unit`).
func TestSettled(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Split brain healed at .100400: lb2 releases to lb1.
	lb1 := `time=2026-11-30T19:25:15.000Z level=INFO msg="group master" node=lb1 group=web state=master reason="resources started"
time=2026-11-30T19:25:15.050Z level=WARN msg="group operation failed" node=lb1 group=web op=start err=x
`
	split := `time=2026-11-30T19:25:14.900Z level=INFO msg="group starting" node=lb2 group=web state=starting reason="taking over"
time=2026-11-30T19:25:14.901Z level=INFO msg="group master" node=lb2 group=web state=master reason="resources started"
`
	lb2 := split + `time=2026-11-30T19:25:15.100Z level=INFO msg="group stopping" node=lb2 group=web state=stopping reason="releasing to lb1"
time=2026-11-30T19:25:15.163Z level=INFO msg="group standby" node=lb2 group=web state=standby reason="resources stopped"
`
	logs := map[string]string{"lb1": lb1, "lb2": lb2}
	took, masters := settled(logs, at("2026-11-30T19:25:15.100400Z"))
	if want := 62600 * time.Microsecond; took != want || !slices.Equal(masters, []string{"lb1"}) {
		t.Errorf("split brain: settled = %v, %v; want %v, [lb1]", took, masters, want)
	}
	// Healed after the last change: nobody changed state, 0.
	took, masters = settled(logs, at("2026-11-30T19:25:16Z"))
	if took != 0 || !slices.Equal(masters, []string{"lb1"}) {
		t.Errorf("no change: settled = %v, %v; want 0, [lb1]", took, masters)
	}
	// Both still masters: both named.
	_, masters = settled(map[string]string{"lb1": lb1, "lb2": split}, at("2026-11-30T19:25:16Z"))
	if !slices.Equal(masters, []string{"lb1", "lb2"}) {
		t.Errorf("split brain left: masters %v, want [lb1 lb2]", masters)
	}
}

// TestTakeoverAfter checks the crash loop's takeover figure: the first
// "group master" line after the kill, not an earlier cycle's.
func TestTakeoverAfter(t *testing.T) {
	log := `time=2026-11-30T19:25:10.000Z level=INFO msg="group master" node=lb2 group=web state=master reason="resources started"
time=2026-11-30T19:25:14.900Z level=INFO msg="group starting" node=lb2 group=web state=starting reason="taking over"
time=2026-11-30T19:25:15.181Z level=INFO msg="group master" node=lb2 group=web state=master reason="resources started"
`
	killed := time.Date(2026, 11, 30, 19, 25, 15, 2_500_000, time.UTC)
	took, err := takeoverAfter(log, killed)
	if want := 178500 * time.Microsecond; err != nil || took != want {
		t.Errorf("takeoverAfter = %v, %v; want %v", took, err, want)
	}
	if _, err := takeoverAfter(log, killed.Add(time.Second)); err == nil {
		t.Error("takeoverAfter with no master line after the kill: no error")
	}
}
