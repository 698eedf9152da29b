package psync

import (
	"testing"
	"time"
)

func TestInResync(t *testing.T) {
	var in In
	steps := []struct {
		gen        uint64
		m          Message
		wantImport bool
		wantSynced bool
	}{
		{1, Message{Type: Hello, N: 1}, false, false},
		{1, Message{Type: Delta, N: 2}, true, false}, // changes alone never make a table whole
		{1, Message{Type: Begin, N: 3, Epoch: 1}, false, false},
		{1, Message{Type: Part, N: 4, Epoch: 1}, true, false},
		{1, Message{Type: Delta, N: 5}, true, false},
		{1, Message{Type: Part, N: 6, Epoch: 1}, true, false},
		{1, Message{Type: End, N: 7, Epoch: 1, Parts: 2}, false, true},
		{1, Message{Type: Delta, N: 8}, true, true},
		{1, Message{Type: Delta, N: 8}, false, true},  // not newer: ignored
		{1, Message{Type: Delta, N: 10}, true, false}, // 9 was lost
		{1, Message{Type: Begin, N: 11, Epoch: 2}, false, false},
		{1, Message{Type: Part, N: 12, Epoch: 2}, true, false},
		{1, Message{Type: End, N: 13, Epoch: 2, Parts: 2}, false, false}, // a Part missing though no n was
		{1, Message{Type: Begin, N: 14, Epoch: 3}, false, false},
		{1, Message{Type: Part, N: 16, Epoch: 3}, true, false}, // 15 lost mid-resync
		{1, Message{Type: End, N: 17, Epoch: 3, Parts: 1}, false, false},
		{1, Message{Type: Begin, N: 18, Epoch: 4}, false, false},
		{1, Message{Type: End, N: 19, Epoch: 4}, false, true}, // an empty table
		{2, Message{Type: Delta, N: 1}, true, false},          // the sender restarted
	}
	for i, s := range steps {
		imp := in.Receive(s.gen, &s.m)
		if imp != s.wantImport || in.Synced() != s.wantSynced {
			t.Fatalf("step %d: Receive(%d, %+v) = %v, Synced() = %v, want %v, %v", i, s.gen, s.m, imp, in.Synced(), s.wantImport, s.wantSynced)
		}
	}
	if in.Gaps != 2 || in.Restarts != 1 {
		t.Errorf("Gaps, Restarts = %d, %d, want 2, 1", in.Gaps, in.Restarts)
	}
	if a := in.Ack("lb1"); a != (Ack{Name: "lb1", Generation: 2, N: 1}) {
		t.Errorf("Ack() = %+v", a)
	}
}

func TestOutWantResync(t *testing.T) {
	t0 := time.Unix(1000, 0)
	o := Out{Self: "lb1", Gen: 5, Holdoff: 2 * time.Second}
	if o.WantResync(t0) {
		t.Fatal("WantResync() with no peer heard = true")
	}
	o.Heard("lb2", &Message{Type: Hello}) // a peer that never heard us
	if !o.WantResync(t0) {
		t.Fatal("WantResync() for a peer without our table = false")
	}
	o.StartResync()
	if o.WantResync(t0.Add(time.Hour)) {
		t.Fatal("WantResync() while resyncing = true")
	}
	o.EndResync(40, t0)
	// A Hello written before our End arrived must not start another...
	o.Heard("lb2", &Message{Type: Hello, Acks: []Ack{{Name: "lb1", Generation: 5, N: 30}}})
	if o.WantResync(t0.Add(time.Second)) {
		t.Fatal("WantResync() on a Hello predating the End = true")
	}
	// ...unless the holdoff passed (the End may have been lost).
	if !o.WantResync(t0.Add(2 * time.Second)) {
		t.Fatal("WantResync() after the holdoff = false")
	}
	// One written after the End that still is not synced: the resync failed.
	o.Heard("lb2", &Message{Type: Hello, Acks: []Ack{{Name: "lb1", Generation: 5, N: 41}}})
	if !o.WantResync(t0.Add(time.Second)) {
		t.Fatal("WantResync() for a peer past our End and not synced = false")
	}
	o.Heard("lb2", &Message{Type: Hello, Acks: []Ack{{Name: "lb3", Generation: 5, N: 99, Synced: true}, {Name: "lb1", Generation: 5, N: 41, Synced: true}}})
	if o.WantResync(t0.Add(time.Hour)) || !o.CaughtUp("lb2", 41) || o.CaughtUp("lb2", 42) {
		t.Fatal("a synced peer: WantResync() = true or CaughtUp wrong")
	}
}
