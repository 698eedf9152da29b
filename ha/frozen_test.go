package ha_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

// frozenPair is a two-node machine (self, peer "other") with one group,
// web, driven on a fake clock; acts collects every action since start.
type frozenPair struct {
	t     *testing.T
	m     *ha.Machine
	now   time.Time
	other string
	acts  []ha.Action
}

func newFrozenPair(t *testing.T, self, other string) *frozenPair {
	m, err := ha.New(ha.Config{Self: self, Nodes: []string{"lb1", "lb2"}, Initdead: time.Second,
		Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1"}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &frozenPair{t: t, m: m, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), other: other}
	f.step(ha.Event{Kind: ha.EventStart})
	return f
}

func (f *frozenPair) step(ev ha.Event) {
	f.now = f.now.Add(10 * time.Millisecond)
	ev.Now = f.now
	out := f.m.Step(ev)
	f.acts = append(f.acts, out...)
	for _, a := range out {
		switch a.Kind {
		case ha.ActionStart:
			f.step(ha.Event{Kind: ha.EventStarted, Group: a.Group, OK: true})
		case ha.ActionStop:
			f.step(ha.Event{Kind: ha.EventStopped, Group: a.Group, OK: true})
		}
	}
}

// peer sends the peer's heartbeat: web in state at prio, maintenance and
// leaving as given.
func (f *frozenPair) peer(prio uint8, state ha.State, maint, leaving bool) {
	f.step(ha.Event{Kind: ha.EventMessage, Msg: &ha.Message{From: f.other, Generation: 1, Keepalive: 100 * time.Millisecond,
		Maintenance: maint, Leaving: leaving, Groups: []ha.GroupState{{Name: "web", Priority: prio, State: state}}}})
}

// logged returns the log lines at level since the last call.
func (f *frozenPair) logged(level ha.Level) []string {
	var out []string
	for _, a := range f.acts {
		if a.Kind == ha.ActionLog && a.Level == level {
			out = append(out, a.Reason)
		}
	}
	f.acts = nil
	return out
}

// TestStopWithPeerInMaintenance (review 12b, 1 and 6): the owner cannot
// hand its group to a peer in maintenance. Its standby is refused at once
// naming the maintenance, and a stop, which goes ahead, logs an error
// naming the group left with no holder and why.
func TestStopWithPeerInMaintenance(t *testing.T) {
	f := newFrozenPair(t, "lb2", "lb1")
	f.peer(100, ha.StateStandby, false, false)
	f.step(ha.Event{Kind: ha.EventTakeover, Group: "web"})
	if f.m.State("web") != ha.StateMaster {
		t.Fatalf("web is %s on lb2 after its takeover, want master", f.m.State("web"))
	}
	f.peer(100, ha.StateStandby, true, false)
	want := `standby of web refused: lb1 is in maintenance and will not take it: run "hactl maintenance off" on lb1 first`
	if bs := f.m.StandbyBlocked("web"); len(bs) != 1 || bs[0].Error() != want || bs[0].Wait || !bs[0].Frozen {
		t.Errorf("StandbyBlocked = %+v; want %q, no wait, frozen (a stop waits for it)", bs, want)
	}
	f.logged(ha.LevelError)
	f.step(ha.Event{Kind: ha.EventLeave})
	want = `leaving: web will have no holder: lb1 is in maintenance and will not take it: run "hactl maintenance off" on lb1 first`
	if errs := f.logged(ha.LevelError); !slices.Equal(errs, []string{want}) {
		t.Errorf("errors logged on leaving = %q; want [%q]", errs, want)
	}
	if f.m.State("web") != ha.StateStandby {
		t.Errorf("web is %s on lb2 after leaving, want standby (maintenance freezes lb1; the stop goes ahead)", f.m.State("web"))
	}
}

// TestPeerLeavesWhileInMaintenance (review 12b, 1): a node in maintenance
// stays frozen when the owner leaves, but says that the group has no
// holder and what ends that, in its log and its status.
func TestPeerLeavesWhileInMaintenance(t *testing.T) {
	f := newFrozenPair(t, "lb1", "lb2")
	f.peer(255, ha.StateMaster, false, false)
	f.step(ha.Event{Kind: ha.EventMaintenance, On: true})
	f.logged(ha.LevelError)
	f.peer(0, ha.StateMaster, false, true)
	want := `web has no holder: lb2 left while this node is in maintenance; "hactl maintenance off" takes it`
	if errs := f.logged(ha.LevelError); !slices.Equal(errs, []string{want}) {
		t.Errorf("errors logged when lb2 left = %q; want [%q]", errs, want)
	}
	st := f.m.Status().Groups[0]
	if st.State != ha.StateStandby || !strings.Contains(st.Waiting, `web has no holder: "hactl maintenance off" takes it`) {
		t.Errorf("status = %+v; want standby (frozen), saying web has no holder", st)
	}
	f.step(ha.Event{Kind: ha.EventMaintenance, On: false})
	if f.m.State("web") != ha.StateMaster {
		t.Errorf("web is %s after maintenance off, want master", f.m.State("web"))
	}
	// A peer that dies (not a stop) while this node is frozen: the same.
	g := newFrozenPair(t, "lb1", "lb2")
	g.peer(255, ha.StateMaster, false, false)
	g.step(ha.Event{Kind: ha.EventMaintenance, On: true})
	g.logged(ha.LevelError)
	g.now = g.now.Add(10 * time.Second)
	g.step(ha.Event{Kind: ha.EventTick})
	want = `web has no holder: lb2 died while this node is in maintenance; "hactl maintenance off" takes it`
	if errs := g.logged(ha.LevelError); !slices.Equal(errs, []string{want}) {
		t.Errorf("errors logged when lb2 died = %q; want [%q]", errs, want)
	}
}

// TestTakeoverFromPeerInMaintenance (review 12b, 2): a takeover of a group
// a peer in maintenance holds is refused at once, naming it, and pins
// nothing: the group stays there when the maintenance ends.
func TestTakeoverFromPeerInMaintenance(t *testing.T) {
	f := newFrozenPair(t, "lb1", "lb2")
	f.now = f.now.Add(2 * time.Second) // past initdead
	f.peer(255, ha.StateMaster, true, false)
	if f.m.State("web") != ha.StateStandby {
		t.Fatalf("web is %s on lb1 while lb2 holds it in maintenance, want standby", f.m.State("web"))
	}
	f.logged(ha.LevelWarn)
	f.step(ha.Event{Kind: ha.EventTakeover, Group: "web"})
	want := `takeover of web refused: lb2 holds it in maintenance and will not release it: run "hactl maintenance off" on lb2 first`
	if warns := f.logged(ha.LevelWarn); !slices.Contains(warns, want) {
		t.Errorf("warnings after the takeover = %q; want %q", warns, want)
	}
	if st := f.m.Status().Groups[0]; st.Priority == ha.PriorityTakeover {
		t.Errorf("status after the refused takeover = %+v: pinned", st)
	}
	for range 10 { // a second of heartbeats, lb2 out of maintenance
		f.now = f.now.Add(100 * time.Millisecond)
		f.peer(255, ha.StateMaster, false, false)
	}
	if f.m.State("web") != ha.StateStandby {
		t.Errorf("web is %s on lb1 after lb2's maintenance ended, want standby (no takeover pending)", f.m.State("web"))
	}
}
