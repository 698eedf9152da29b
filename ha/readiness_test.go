package ha_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

// TestFailbackReadinessSilentOwner: an owner that advertises no healthy
// count (a peer predating the readiness payload) sets the bar at one
// healthy real; the returning node advertises its count and its wait, and
// takes the group back once it has one.
func TestFailbackReadinessSilentOwner(t *testing.T) {
	yes := true
	m, err := ha.New(ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Initdead: time.Second, FailbackHold: time.Second,
		Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1", AutoFailback: &yes, FailbackGate: true}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	owner := &ha.Message{From: "lb2", Generation: 1, Keepalive: 100 * time.Millisecond,
		Groups: []ha.GroupState{{Name: "web", Priority: 100, State: ha.StateMaster}}}
	step := func(ev ha.Event) []ha.Action {
		now = now.Add(100 * time.Millisecond)
		ev.Now = now
		acts := m.Step(ev)
		acts = append(acts, m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: owner})...)
		return acts
	}
	step(ha.Event{Kind: ha.EventStart})
	step(ha.Event{Kind: ha.EventReadiness, Group: "web", Healthy: 0, OK: true})
	var sent *ha.Message
	for range 12 { // past the hold
		for _, a := range step(ha.Event{Kind: ha.EventTick}) {
			if a.Kind == ha.ActionSend {
				sent = a.Msg
			}
			if a.Kind == ha.ActionStart {
				t.Fatalf("started %s with no healthy real: %s", a.Group, a.Reason)
			}
		}
	}
	if w := m.Status().Groups[0].Waiting; !strings.Contains(w, "failback waiting: 0 of 1 real healthy here (owner lb2 does not say its count: wanting 1)") {
		t.Errorf("waiting = %q, want the bar of one real named", w)
	}
	if sent == nil || len(sent.Groups) != 1 || !sent.Groups[0].HealthyKnown || sent.Groups[0].Healthy != 0 || !sent.Groups[0].NotReady {
		t.Errorf("last heartbeat %v, want web healthy=0 and not ready", sent)
	}
	acts := step(ha.Event{Kind: ha.EventReadiness, Group: "web", Healthy: 1, OK: true})
	started := false
	for _, a := range acts {
		started = started || a.Kind == ha.ActionStart && a.Group == "web"
		if a.Kind == ha.ActionSend && (a.Msg.Groups[0].NotReady || a.Msg.Groups[0].Healthy != 1) {
			t.Errorf("heartbeat after readiness %v, want web healthy=1 and ready", a.Msg)
		}
	}
	if !started {
		t.Errorf("actions after one real became healthy = %v, want web started", acts)
	}
}
