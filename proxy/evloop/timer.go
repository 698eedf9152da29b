package evloop

import "time"

// Timer is a function to run on a loop's goroutine at a time (After).
// Its methods are the loop goroutine's alone, like Register's.
type Timer struct {
	l    *Loop
	fn   func()
	when int64 // nanoclock
	i    int   // index in l.timers, -1 when not pending
}

// epoch is nanoclock's zero: time.Since reads the monotonic clock.
var epoch = time.Now()

// nanoclock returns the monotonic time in nanoseconds since epoch.
func nanoclock() int64 { return int64(time.Since(epoch)) }

// After runs fn on l's goroutine once d has passed (as soon as the loop
// gets to it: after the events of the turn in which it is due). A pending
// timer keeps the loop's goroutine running. Loop goroutine only.
//
// Timers are a min-heap per loop, and the loop's wait in Go's poller is
// bounded by the earliest (a read deadline on its epoll descriptor): no
// runtime timer and no goroutine per Timer, unlike time.AfterFunc.
func (l *Loop) After(d time.Duration, fn func()) *Timer {
	t := &Timer{}
	t.Init(l, fn)
	t.Reset(d)
	return t
}

// Init makes t a stopped timer that runs fn on l once Reset, for a Timer
// kept inside a longer-lived value (a pooled connection's): fn is bound
// once for the value's life, not once per use as After's closure is.
// The zero Timer must be Init before use; Init a stopped one only.
func (t *Timer) Init(l *Loop, fn func()) { t.l, t.fn, t.i = l, fn, -1 }

// Stop keeps t from running and reports whether it was pending.
func (t *Timer) Stop() bool {
	if t.i < 0 {
		return false
	}
	t.l.remove(t.i)
	return true
}

// Reset makes t run once d has passed from now, whether it was pending,
// stopped or ran already. Moving a pending timer costs O(log n), n the
// loop's pending timers.
func (t *Timer) Reset(d time.Duration) {
	t.when = nanoclock() + int64(d)
	l := t.l
	if t.i >= 0 {
		l.fix(t.i)
		return
	}
	t.i = len(l.timers)
	l.timers = append(l.timers, t)
	l.up(t.i)
}

// due reports whether the earliest timer is due.
func (l *Loop) due() bool {
	return len(l.timers) > 0 && l.timers[0].when <= nanoclock()
}

// runTimers runs the timers due now. Those a function adds are left to
// a later turn even if they are due, so that the turn ends.
func (l *Loop) runTimers() {
	now := nanoclock()
	for range len(l.timers) {
		if len(l.timers) == 0 || l.timers[0].when > now {
			return
		}
		t := l.timers[0]
		l.remove(0)
		t.fn()
	}
}

// arm bounds the loop's next wait by its earliest timer: a read deadline
// on the epoll descriptor, set only when earlier than the one set (a
// deadline left by a stopped timer costs one early wake-up, not a call).
func (l *Loop) arm() {
	if len(l.timers) == 0 {
		return
	}
	next := l.timers[0].when
	if l.armed != 0 && l.armed <= next {
		return
	}
	l.armed = next
	l.file.SetReadDeadline(epoch.Add(time.Duration(next)))
}

// disarm clears the read deadline.
func (l *Loop) disarm() {
	l.armed = 0
	l.file.SetReadDeadline(time.Time{})
}

// The heap, as container/heap's but on []*Timer (no interface calls).

func (l *Loop) remove(i int) {
	h := l.timers
	last := len(h) - 1
	h[i].i = -1
	if i != last {
		h[i] = h[last]
		h[i].i = i
	}
	h[last] = nil
	l.timers = h[:last]
	if i != last {
		l.fix(i)
	}
}

func (l *Loop) fix(i int) {
	if !l.down(i) {
		l.up(i)
	}
}

func (l *Loop) up(i int) {
	h := l.timers
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			return
		}
		h[p], h[i] = h[i], h[p]
		h[p].i, h[i].i = p, i
		i = p
	}
}

// down moves h[i] down and reports whether it moved.
func (l *Loop) down(i int) bool {
	h := l.timers
	i0 := i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && h[r].when < h[c].when {
			c = r
		}
		if h[i].when <= h[c].when {
			break
		}
		h[i], h[c] = h[c], h[i]
		h[i].i, h[c].i = i, c
		i = c
	}
	return i > i0
}
