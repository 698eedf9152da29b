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

	// A peer without hearing reports (it says nothing of what it hears):
	// decided on at once, as before.
	m, err = ha.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.Step(ha.Event{Kind: ha.EventStart, Now: now})
	if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: msg(noReport, ha.StateStandby)}); !starts(acts) {
		t.Errorf("a peer without hearing reports, group not held: %v, want lb1 to start it at once", acts)
	}
}

// TestStaleHeartbeatOfRestartedPeer: a peer that restarted while we were
// down hears generation 0 of us, so 0 proves no freshness: its queued
// heartbeats from before it held the group (standby) must not make us
// take the group as unowned (CI's TestBGPActivePassive: lb2 came back,
// took web back from lb3, then lb1 came back and read lb2's heartbeats
// from its standby time). Its fresh heartbeat, hearing our generation,
// decides. (A peer that never hears us is the one-way rule's case: issue 15.)
func TestStaleHeartbeatOfRestartedPeer(t *testing.T) {
	cfg := ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Generation: 7, Keepalive: 50 * time.Millisecond,
		Initdead: time.Second, AutoFailback: true, FailbackHold: time.Second,
		Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1"}}}
	msg := func(heardGen uint64, state ha.State) *ha.Message {
		return &ha.Message{From: "lb2", Generation: 3, Keepalive: 50 * time.Millisecond,
			Groups: []ha.GroupState{{Name: "web", Priority: 100, State: state}},
			Hears:  []ha.Hearing{{Node: "lb1", Generation: heardGen, Alive: heardGen > 0}}}
	}
	starts := func(acts []ha.Action) bool {
		for _, a := range acts {
			if a.Kind == ha.ActionStart {
				return true
			}
		}
		return false
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m, err := ha.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Step(ha.Event{Kind: ha.EventStart, Now: start})
	for i := range 3 {
		if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: start.Add(time.Duration(i) * time.Millisecond), Msg: msg(0, ha.StateStandby)}); starts(acts) {
			t.Fatalf("a queued heartbeat hearing generation 0 of us (lb2 standby) started the group: %v", acts)
		}
	}
	if w := m.Status().Groups[0].Waiting; !strings.Contains(w, "lb2 (a heartbeat sent since our start)") {
		t.Errorf("waiting = %q, want it to name lb2's fresh heartbeat", w)
	}
	if acts := m.Step(ha.Event{Kind: ha.EventMessage, Now: start.Add(20 * time.Millisecond), Msg: msg(7, ha.StateMaster)}); starts(acts) {
		t.Fatalf("lb2 holds web (fresh heartbeat), yet lb1 took it at once: %v", acts)
	}
	if g := m.Status().Groups[0]; g.Owner != "lb2" {
		t.Errorf("owner = %q, want lb2", g.Owner)
	}
}

// noReport stands for a heartbeat without hearing reports.
const noReport = ^uint64(0)
