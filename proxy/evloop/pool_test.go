package evloop

import (
	"errors"
	"slices"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
	"golang.org/x/sys/unix"
)

// counter is a Connector that counts what it heard; its fields are the
// loop goroutine's (read them in onLoop).
type counter struct {
	closed, redials int
	err             error
}

func (c *counter) Ended(int, uint64)             {}
func (c *counter) Closed(err error, _ [2]uint64) { c.closed++; c.err = err }
func (c *counter) Connected()                    {}
func (c *counter) Redial(error) int              { c.redials++; return -1 }

// pairFDs returns the near ends of two Unix socket pairs, for a Pair to
// own; the far ends are closed at the end of the test.
func pairFDs(t *testing.T) (a, b int) {
	t.Helper()
	a, _ = rawPair(t)
	b, _ = rawPair(t)
	return a, b
}

// pooledLoop returns a loop whose free list is emptied, so that the test
// knows which Pair StartConnecting hands out next.
func pooledLoop(t *testing.T) *Loop {
	t.Helper()
	l := pickLoop(t)
	onLoop(t, l, func() { l.pool.free = FreeList[Pair]{} })
	return l
}

var errPoolTest = errors.New("pool test")

// TestStaleRefIgnored: an Abort, Expire or Inspect through the Ref of a
// closed Pair does nothing to the connection that reuses its object.
func TestStaleRefIgnored(t *testing.T) {
	ops := map[string]func(r Ref, ran *bool){
		"abort":   func(r Ref, _ *bool) { r.Abort(errPoolTest) },
		"expire":  func(r Ref, _ *bool) { r.Expire(1) }, // the new Pair's attempt is 1 too
		"inspect": func(r Ref, ran *bool) { r.Inspect(func([2]int) error { *ran = true; return errPoolTest }) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			l := pooledLoop(t)
			a1, b1 := pairFDs(t)
			a2, b2 := pairFDs(t)
			var old, cur Ref
			onLoop(t, l, func() {
				old = l.StartConnecting(a1, b1, &counter{})
				old.p.reset(errPoolTest)
			})
			h := &counter{}
			ran := false
			onLoop(t, l, func() {
				cur = l.StartConnecting(a2, b2, h)
				op(old, &ran) // runs on the next turn, before cur's connect event
			})
			t.Cleanup(func() { cur.Abort(errPoolTest) })
			if cur.p != old.p {
				t.Fatal("the closed Pair was not reused: nothing to test")
			}
			var closed, redials int
			onLoop(t, l, func() { closed, redials = h.closed, h.redials })
			if closed != 0 || redials != 0 || ran {
				t.Errorf("after %s through a stale Ref: Closed %d times, Redial %d, Inspect ran %v; want 0, 0, false",
					name, closed, redials, ran)
			}
		})
	}
}

// TestPairNotReusedInBatch: a Pair closed in a batch is not handed out
// again in that batch (its events may still be in it), and is after.
func TestPairNotReusedInBatch(t *testing.T) {
	l := pooledLoop(t)
	var fds [3][2]int
	for i := range fds {
		fds[i][0], fds[i][1] = pairFDs(t)
	}
	var first, second, third Ref
	onLoop(t, l, func() {
		first = l.StartConnecting(fds[0][0], fds[0][1], &counter{})
		first.p.reset(errPoolTest)
		second = l.StartConnecting(fds[1][0], fds[1][1], &counter{})
	})
	onLoop(t, l, func() { third = l.StartConnecting(fds[2][0], fds[2][1], &counter{}) })
	t.Cleanup(func() { second.Abort(errPoolTest); third.Abort(errPoolTest) })
	if second.p == first.p {
		t.Error("a Pair closed in a batch was handed out again in the same batch")
	}
	if third.p != first.p {
		t.Error("a Pair closed in an earlier batch was not reused")
	}
}

// TestQueuedPairWaitsATurn: a closed Pair reaches the free list only at
// the end of its batch, and one still queued for another turn (l.again,
// which that turn reads) only at the end of that turn.
func TestQueuedPairWaitsATurn(t *testing.T) {
	l := pooledLoop(t)
	a, b := pairFDs(t)
	var p *Pair
	var inBatch, queuedAtEnd bool
	onLoop(t, l, func() {
		p = l.StartConnecting(a, b, &counter{}).p
		p.requeue()
		p.reset(errPoolTest)
		inBatch = slices.Contains(l.pool.free.items, p)
		l.pool.recycle() // an end of batch with p still in l.again
		queuedAtEnd = slices.Contains(l.pool.free.items, p)
	})
	var later bool
	onLoop(t, l, func() {}) // the turn that reads l.again has ended by the next post's
	onLoop(t, l, func() { later = slices.Contains(l.pool.free.items, p) })
	if inBatch {
		t.Error("a Pair reached the free list in the batch that closed it")
	}
	if queuedAtEnd {
		t.Error("a Pair still in l.again reached the free list")
	}
	if !later {
		t.Error("the queued Pair never reached the free list")
	}
}

// TestFreeListBounded: however many Pairs close in a batch, the free
// list keeps MaxFree.
func TestFreeListBounded(t *testing.T) {
	l := pooledLoop(t)
	const n = MaxFree + 44
	var fds [n][2]int
	for i := range fds {
		fds[i][0], fds[i][1] = pairFDs(t)
	}
	var free int
	onLoop(t, l, func() {
		for _, f := range fds {
			l.StartConnecting(f[0], f[1], &counter{}).p.reset(errPoolTest)
		}
	})
	onLoop(t, l, func() { free = l.pool.free.Len() })
	if free != MaxFree {
		t.Errorf("free list holds %d Pairs after %d closed, want %d", free, n, MaxFree)
	}
}

// TestStaleEventDropped: a socket closed while a forked child still holds
// it (a dup here) stays in the epoll set, and its late events carry its
// old registration's tag: they do not reach the Pair that reuses its
// slot. Without the tag, the old socket's hang-up (EPOLLHUP with
// EPOLLOUT, a Unix socket's) reached the new Pair's connecting side as a
// completed connect.
func TestStaleEventDropped(t *testing.T) {
	l := pooledLoop(t)
	a1, _ := pairFDs(t)
	old, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	farEnd := old[1]
	t.Cleanup(func() { unix.Close(farEnd) })
	held, err := unix.Dup(old[0]) // the child's copy
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(held) })
	var first Ref
	var slot int32
	onLoop(t, l, func() { first = l.StartConnecting(a1, old[0], &counter{}) })
	onLoop(t, l, func() { // after the add, posted by StartConnecting
		slot = first.p.slot
		first.p.reset(errPoolTest) // closes old[0]; held keeps the socket in the set
	})
	a2, _ := pairFDs(t)
	rfd, err := Connect(testkit.Blackhole(t)) // connecting: no event of its own for a second
	if err != nil {
		t.Fatal(err)
	}
	h := &counter{}
	var cur Ref
	onLoop(t, l, func() { cur = l.StartConnecting(a2, rfd, h) })
	t.Cleanup(func() { cur.Abort(errPoolTest) })
	var curSlot int32
	onLoop(t, l, func() { curSlot = cur.p.slot })
	if slot < 0 || curSlot != slot {
		t.Fatalf("new Pair has slot %d, the closed one had %d: nothing to test", curSlot, slot)
	}
	unix.Close(farEnd) // the old socket hangs up: EPOLLHUP for the old registration
	farEnd = -1
	// The close queued the hang-up before this post's wake-up, so the
	// turn that runs the post takes it too, after its posts: the second
	// post sees what it did.
	onLoop(t, l, func() {})
	var closed, redials int
	connecting := false
	onLoop(t, l, func() { closed, redials, connecting = h.closed, h.redials, cur.p.connecting })
	if closed != 0 || redials != 0 || !connecting {
		t.Errorf("after the old socket's hang-up: Redial %d times, Closed %d, still connecting %v; want 0, 0, true (a stale event reached the new Pair)",
			redials, closed, connecting)
	}
}
