package ha_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

// TestStaleHeartbeatAtStart: a restarted node (generation 2) that first
// hears heartbeats its peer sent before the restart (queued while it was
// down: they hear generation 1 and show the group not held yet) does not
// take the group as unowned; the peer's next heartbeat, which hears
// generation 2 and shows the group held, is what it decides on: with
// auto_failback it waits out the failback hold instead of taking the
// group at once. A peer that never heard us (a cold start of both) or
// says nothing of what it hears counts once heard, as before.
func TestStaleHeartbeatAtStart(t *testing.T) {
	cfg := ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Generation: 2, Keepalive: 50 * time.Millisecond,
		Initdead: time.Second, AutoFailback: true, FailbackHold: time.Second,
		Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1"}}}
	msg := func(heardGen uint64, state ha.State) *ha.Message {
		m := &ha.Message{From: "lb2", Generation: 1, Keepalive: 50 * time.Millisecond,
			Groups: []ha.GroupState{{Name: "web", Priority: 100, State: state}}}
		if heardGen != noReport {
			m.Hears = []ha.Hearing{{Node: "lb1", Generation: heardGen, Alive: heardGen > 0}}
		}
		return m
	}
	starts := func(acts []ha.Action) bool {
		for _, a := range acts {
			if a.Kind == ha.ActionStart {
				return true
			}
		}
		return false
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m, err := ha.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Step(ha.Event{Kind: ha.EventStart, Now: now})
	// The queued heartbeats: lb2 standby, hearing lb1's old run.
	for i := range 3 {
		if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: now.Add(time.Duration(i) * time.Millisecond), Msg: msg(1, ha.StateStandby)}); starts(acts) {
			t.Fatalf("a heartbeat from before our start (hearing generation 1) started the group: %v", acts)
		}
	}
	if w := m.Status().Groups[0].Waiting; !strings.Contains(w, "lb2 (a heartbeat sent since our start)") {
		t.Errorf("waiting = %q, want it to name lb2's fresh heartbeat", w)
	}
	// lb2's fresh heartbeat: it holds web and hears this run.
	now = now.Add(20 * time.Millisecond)
	if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: msg(2, ha.StateMaster)}); starts(acts) {
		t.Fatalf("lb2 holds web, yet lb1 took it before its failback hold: %v", acts)
	}
	if g := m.Status().Groups[0]; g.Owner != "lb2" {
		t.Errorf("owner = %q, want lb2 (its fresh heartbeat)", g.Owner)
	}
	var took bool
	for i := range 30 {
		now = now.Add(50 * time.Millisecond)
		acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: msg(2, ha.StateMaster)})
		if acts = append(acts, m.Step(ha.Event{Kind: ha.EventTick, Now: now})...); starts(acts) {
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

	// A peer that never heard us, or without hearing reports: decided on
	// at once, as before.
	for _, heard := range []uint64{0, noReport} {
		m, err = ha.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		m.Step(ha.Event{Kind: ha.EventStart, Now: now})
		if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: msg(heard, ha.StateStandby)}); !starts(acts) {
			t.Errorf("a peer that heard generation %d of us (%d: no report), group not held: %v, want lb1 to start it at once", heard, noReport, acts)
		}
	}
}

// noReport stands for a heartbeat without hearing reports.
const noReport = ^uint64(0)
