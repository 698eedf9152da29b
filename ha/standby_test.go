package ha_test

import (
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

// TestStandbyBlockedWait: StandbyBlocked tells a caller whether to wait
// (the taker is not ready yet) or refuse at once (nothing will change by
// itself: both nodes in standby, no live peer), and "" once the standby
// would move the group; a group not held here is never blocked.
func TestStandbyBlockedWait(t *testing.T) {
	m, err := ha.New(ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Initdead: time.Second,
		Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1", FailbackGate: true}, {Name: "db", Preferred: "lb2"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := func(ev ha.Event) {
		now = now.Add(10 * time.Millisecond)
		ev.Now = now
		for _, a := range m.Step(ev) {
			if a.Kind == ha.ActionStart {
				m.Step(ha.Event{Kind: ha.EventStarted, Now: now, Group: a.Group, OK: true})
			}
		}
	}
	peer := func(webPrio uint8, ready ha.GroupState) {
		ready.Name, ready.Priority, ready.State = "web", webPrio, ha.StateStandby
		step(ha.Event{Kind: ha.EventMessage, Msg: &ha.Message{From: "lb2", Generation: 1, Keepalive: 100 * time.Millisecond,
			Groups: []ha.GroupState{ready, {Name: "db", Priority: 200, State: ha.StateMaster}}}})
	}
	step(ha.Event{Kind: ha.EventStart})
	step(ha.Event{Kind: ha.EventReadiness, Group: "web", Healthy: 2, OK: true})
	now = now.Add(time.Second) // past initdead: web held here, no peer heard
	step(ha.Event{Kind: ha.EventTick})
	if bs := m.StandbyBlocked("web"); len(bs) != 1 || bs[0].Error() != "standby of web refused: no live peer can hold it" || bs[0].Wait {
		t.Errorf("alone: StandbyBlocked = %+v; want no live peer, no wait", bs)
	}
	if m.State("web") != ha.StateMaster {
		t.Fatalf("web is %s here, want master", m.State("web"))
	}
	for _, tc := range []struct {
		prio  uint8
		ready ha.GroupState
		why   string
		wait  bool
	}{
		{100, ha.GroupState{NotReady: true}, "standby of web refused: lb2 is not ready to take it: its balancer has not reported its reals yet (2 here); \"hactl takeover web\" on lb2 moves it regardless", true},
		{100, ha.GroupState{Healthy: 1, HealthyKnown: true, NotReady: true}, "standby of web refused: lb2 is not ready to take it: 1 real healthy there, 2 here, or its persistence table has not caught up (its status says which); \"hactl takeover web\" on lb2 moves it regardless", true},
		{ha.PriorityStandby, ha.GroupState{Healthy: 2, HealthyKnown: true}, `standby of web refused: lb2 is in standby itself (it advertises priority 1, as this node would, and lb1 wins the tie by name): run "hactl takeover web" on lb2 to move it there`, false},
		{100, ha.GroupState{Healthy: 2, HealthyKnown: true}, "", false},
	} {
		peer(tc.prio, tc.ready)
		bs := m.StandbyBlocked("web")
		if tc.why == "" {
			if len(bs) != 0 {
				t.Errorf("peer at %d %+v: StandbyBlocked(web) = %+v, want none", tc.prio, tc.ready, bs)
			}
			continue
		}
		if len(bs) != 1 || bs[0].Error() != tc.why || bs[0].Wait != tc.wait {
			t.Errorf("peer at %d %+v: StandbyBlocked(web) = %+v; want %q, wait %v", tc.prio, tc.ready, bs, tc.why, tc.wait)
		}
		if all := m.StandbyBlocked(""); len(all) != 1 || all[0] != bs[0] {
			t.Errorf("peer at %d %+v: StandbyBlocked(\"\") = %+v, want web's block only (db is not held here)", tc.prio, tc.ready, all)
		}
	}
	// The standby goes ahead; then the peer's start fails (priority 0):
	// the group, still held here, is blocked for good, so a caller
	// waiting for the move can stop waiting (node lifts its SYN hold).
	step(ha.Event{Kind: ha.EventStandby, Group: "web"})
	if st := m.Status().Groups[0]; st.Priority != ha.PriorityStandby || st.State != ha.StateMaster {
		t.Fatalf("after the standby: %+v, want master at priority 1 until the peer claims it", st)
	}
	step(ha.Event{Kind: ha.EventMessage, Msg: &ha.Message{From: "lb2", Generation: 1, Keepalive: 100 * time.Millisecond,
		Groups: []ha.GroupState{{Name: "web", State: ha.StateFailed}, {Name: "db", Priority: 200, State: ha.StateMaster}}}})
	if bs := m.StandbyBlocked("web"); len(bs) != 1 || bs[0].Error() != "standby of web refused: no live peer can hold it" || bs[0].Wait {
		t.Errorf("peer failed after the standby: StandbyBlocked = %+v; want no live peer, no wait", bs)
	}
	step(ha.Event{Kind: ha.EventMaintenance, On: true})
	if bs := m.StandbyBlocked("web"); len(bs) != 0 {
		t.Errorf("in maintenance: StandbyBlocked = %+v, want none (EventStandby refuses it itself)", bs)
	}
	step(ha.Event{Kind: ha.EventMaintenance, On: false})
	if bs := m.StandbyBlocked("nope"); len(bs) != 1 || bs[0].Error() != "standby of nope refused: no such group" || bs[0].Wait {
		t.Errorf("unknown group: StandbyBlocked = %+v", bs)
	}
}

// TestStandbyFailedStartNoPingPong: a standby whose taker fails to start
// the group gives it back here, and the standby pin is lifted then: once
// the taker's failure backoff is over it must not take the group again
// (with the pin, lb1 advertised priority 1 below lb2's 100, so every
// backoff moved the group to lb2 and back, e2e
// TestStandbyFailedStartLiftsHold).
func TestStandbyFailedStartNoPingPong(t *testing.T) {
	m, err := ha.New(ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Initdead: time.Second,
		Keepalive: 100 * time.Millisecond, Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var starts, stops int
	step := func(ev ha.Event) {
		now = now.Add(10 * time.Millisecond)
		ev.Now = now
		for _, a := range m.Step(ev) {
			switch a.Kind {
			case ha.ActionStart:
				starts++
				m.Step(ha.Event{Kind: ha.EventStarted, Now: now, Group: a.Group, OK: true})
			case ha.ActionStop:
				stops++
				m.Step(ha.Event{Kind: ha.EventStopped, Now: now, Group: a.Group, OK: true})
			}
		}
	}
	peer := func(prio uint8, st ha.State) {
		step(ha.Event{Kind: ha.EventMessage, Msg: &ha.Message{From: "lb2", Generation: 1, Keepalive: 100 * time.Millisecond,
			Groups: []ha.GroupState{{Name: "web", Priority: prio, State: st}}}})
	}
	step(ha.Event{Kind: ha.EventStart})
	peer(100, ha.StateStandby)
	now = now.Add(time.Second)
	step(ha.Event{Kind: ha.EventTick})
	if m.State("web") != ha.StateMaster {
		t.Fatalf("web is %s here, want master", m.State("web"))
	}
	peer(100, ha.StateStandby) // alive again after the second without heartbeats
	step(ha.Event{Kind: ha.EventStandby, Group: "web"})
	peer(100, ha.StateStarting) // lb2 claims it: released here
	if m.State("web") != ha.StateStandby || stops != 1 {
		t.Fatalf("after lb2 claimed web: %s here, %d stops; want standby after 1 stop; %+v", m.State("web"), stops, m.Status())
	}
	peer(0, ha.StateFailed) // lb2's start failed: back here
	if m.State("web") != ha.StateMaster || starts != 2 {
		t.Fatalf("after lb2's failed start: %s here, %d starts; want master again", m.State("web"), starts)
	}
	if st := m.Status().Groups[0]; st.Priority == ha.PriorityStandby {
		t.Errorf("after the standby did not happen: advertising %d, want this node's own priority again", st.Priority)
	}
	// lb2's backoff ends: it advertises 100 again, in standby. lb2
	// claims the group only if that beats what lb1 advertises (its
	// machine's own rule; scenario standby_failed_start runs both): with
	// the pin kept, lb1's 1 lost and the group moved again.
	for range 50 {
		now = now.Add(100 * time.Millisecond)
		peer(100, ha.StateStandby)
		step(ha.Event{Kind: ha.EventTick})
	}
	if st := m.Status().Groups[0]; st.State != ha.StateMaster || st.Priority <= 100 {
		t.Errorf("lb2 back in standby after its backoff: web %s here advertising %d, want master above lb2's 100", st.State, st.Priority)
	}
	// A standby asked again moves it as before.
	step(ha.Event{Kind: ha.EventStandby, Group: "web"})
	peer(100, ha.StateStarting)
	if m.State("web") != ha.StateStandby {
		t.Errorf("a second standby: web %s here, want standby (released to lb2)", m.State("web"))
	}
}
