package ha_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

// TestStaleHeartbeatAtStart: a restarted node (generation 2) that first
// hears heartbeats its peer sent before the restart does not take the
// group as unowned; the peer's next heartbeat, which hears generation 2
// and shows the group held, is what it decides on: with auto_failback it
// waits out the failback hold instead of taking the group at once.
// Queued heartbeats hear either our old run (generation 1, queued while
// we were down) or nothing of us (generation 0: the peer itself restarted
// while we were down, and its heartbeats from before it held the group
// sat in its ARP queue for us; CI's TestBGPActivePassive: a restarted lb1
// took web as unowned while lb2 held it). A peer that says nothing of
// what it hears counts once heard, as before. (A peer that never hears
// us is the one-way rule's case: issue 15.)
func TestStaleHeartbeatAtStart(t *testing.T) {
	cfg := ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Generation: 2, Keepalive: 50 * time.Millisecond,
		Initdead: time.Second, AutoFailback: true, FailbackHold: time.Second,
		Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1"}}}
	for _, queued := range []uint64{1, 0} {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		m := startedMachine(t, cfg, start)
		for i := range 3 {
			if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: start.Add(time.Duration(i) * time.Millisecond), Msg: staleTestMsg(queued, ha.StateStandby)}); startsGroup(acts) {
				t.Fatalf("a queued heartbeat hearing generation %d of us (lb2 standby) started the group: %v", queued, acts)
			}
		}
		if w := m.Status().Groups[0].Waiting; !strings.Contains(w, "lb2 (a heartbeat sent since our start)") {
			t.Errorf("queued heartbeats hearing generation %d: waiting = %q, want it to name lb2's fresh heartbeat", queued, w)
		}
		// lb2's fresh heartbeat: it holds web and hears this run.
		now := start.Add(20 * time.Millisecond)
		if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: staleTestMsg(2, ha.StateMaster)}); startsGroup(acts) {
			t.Fatalf("lb2 holds web, yet lb1 took it before its failback hold: %v", acts)
		}
		if g := m.Status().Groups[0]; g.Owner != "lb2" {
			t.Errorf("owner = %q, want lb2 (its fresh heartbeat)", g.Owner)
		}
		var took bool
		for i := range 30 {
			now = now.Add(50 * time.Millisecond)
			acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: staleTestMsg(2, ha.StateMaster)})
			if acts = append(acts, m.Step(ha.Event{Kind: ha.EventTick, Now: now})...); startsGroup(acts) {
				if held := time.Duration(i+1) * 50 * time.Millisecond; held < time.Second {
					t.Errorf("failback after %v, want the hold (1s)", held)
				}
				took = true
				break
			}
		}
		if !took {
			t.Errorf("lb1 never failed back: %+v", m.Status().Groups[0])
		}
	}

	// A peer without hearing reports: decided on at once, as before.
	m := startedMachine(t, cfg, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Msg: staleTestMsg(noReport, ha.StateStandby)}); !startsGroup(acts) {
		t.Errorf("a peer without hearing reports, group not held: %v, want lb1 to start it at once", acts)
	}
}

// staleTestMsg is lb2's heartbeat (generation 1) showing web in state and
// hearing generation heardGen of lb1 (noReport: no hearing reports).
func staleTestMsg(heardGen uint64, state ha.State) *ha.Message {
	m := &ha.Message{From: "lb2", Generation: 1, Keepalive: 50 * time.Millisecond,
		Groups: []ha.GroupState{{Name: "web", Priority: 100, State: state}}}
	if heardGen != noReport {
		m.Hears = []ha.Hearing{{Node: "lb1", Generation: heardGen, Alive: heardGen > 0}}
	}
	return m
}

func startedMachine(t *testing.T, cfg ha.Config, now time.Time) *ha.Machine {
	t.Helper()
	m, err := ha.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Step(ha.Event{Kind: ha.EventStart, Now: now})
	return m
}

func startsGroup(acts []ha.Action) bool {
	for _, a := range acts {
		if a.Kind == ha.ActionStart {
			return true
		}
	}
	return false
}

// noReport stands for a heartbeat without hearing reports.
const noReport = ^uint64(0)
