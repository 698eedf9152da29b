package ha_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

// TestResetPeer: a peer whose generation went back (its state directory was
// lost) is ignored until the operator resets it; then its heartbeats count
// again (issue 9 case 4). Resetting an unknown peer is refused.
func TestResetPeer(t *testing.T) {
	m, err := ha.New(ha.Config{Self: "lb1", Nodes: []string{"lb1", "lb2"}, Initdead: time.Second,
		Groups: []ha.GroupConfig{{Name: "web"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	msg := func(gen uint64) *ha.Message {
		return &ha.Message{From: "lb2", Generation: gen, Keepalive: 100 * time.Millisecond,
			Groups: []ha.GroupState{{Name: "web", Priority: 100, State: ha.StateStandby}}}
	}
	gen := func() uint64 { return m.Status().Peers[0].Generation }
	m.Step(ha.Event{Kind: ha.EventStart, Now: now})
	m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: msg(3)})
	m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: msg(1)})
	if g := gen(); g != 3 {
		t.Fatalf("peer generation after an older one = %d, want 3 (ignored)", g)
	}
	acts := m.Step(ha.Event{Kind: ha.EventResetPeer, Now: now, Peer: "lb2"})
	if len(acts) == 0 || !strings.Contains(acts[0].Reason, "operator reset the replay state of peer lb2 (was generation 3)") {
		t.Errorf("reset actions = %v, want the operator's decision logged", acts)
	}
	m.Step(ha.Event{Kind: ha.EventMessage, Now: now, Msg: msg(1)})
	if g := gen(); g != 1 {
		t.Errorf("peer generation after reset = %d, want 1", g)
	}
	acts = m.Step(ha.Event{Kind: ha.EventResetPeer, Now: now, Peer: "lb9"})
	if len(acts) == 0 || acts[0].Topic != ha.TopicRefused {
		t.Errorf("reset of an unknown peer = %v, want refused", acts)
	}
}
