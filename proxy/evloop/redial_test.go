package evloop

import (
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// redialer is a Connector whose Redial hands out next, and which notes
// whether Connected came while next was not connected yet.
type redialer struct {
	next  int
	early atomic.Bool
}

func (h *redialer) Ended(int, uint64)       {}
func (h *redialer) Closed(error, [2]uint64) {}
func (h *redialer) Redial(error) int        { return h.next }
func (h *redialer) Connected() {
	if _, err := unix.Getpeername(h.next); err != nil {
		h.early.Store(true)
	}
}

// TestRedialDropsClosedSocketsEvent: an Expire run by the same turn that
// took an event of side 1's socket (its connect completing just as the
// timeout fired) replaces that socket; the event, already in the batch,
// is the closed socket's (an older tag) and must not report the new one,
// still connecting, as connected.
func TestRedialDropsClosedSocketsEvent(t *testing.T) {
	l := pooledLoop(t)
	a, b := pairFDs(t) // b is connected: EPOLLOUT in the next batch
	next, err := Connect(testkit.Blackhole(t))
	if err != nil {
		t.Fatal(err)
	}
	h := &redialer{next: next}
	var r Ref
	onLoop(t, l, func() {
		r = l.StartConnecting(a, b, h)
		r.Expire(1) // run by the turn that takes b's EPOLLOUT, before it
	})
	t.Cleanup(func() { r.Abort(errPoolTest) })
	// Two more turns: the one that took b's event has ended by the
	// second post's.
	onLoop(t, l, func() {})
	onLoop(t, l, func() {})
	if h.early.Load() {
		t.Error("Connected reported for a redialled socket still connecting, on an event of the socket it replaced")
	}
}
