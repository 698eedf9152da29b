package l7

import (
	"sync/atomic"
	"time"
)

// watchAfter is how long a request waits for its real before the proxy
// also watches the client connection for a close. Most answers come
// sooner, and watching costs a goroutine and, when the answer comes, a
// wait for that goroutine to be scheduled (which a starved CPU makes
// long); a client that leaves is noticed this much later at most, and
// the real's connection is let go.
const watchAfter = 200 * time.Millisecond

// watcher notices a client that closes its connection while its request
// waits for the real, as net/http's server does with a background read on
// every connection, but only for requests that wait longer than
// watchAfter. It peeks the client's reader, so bytes of a next
// (pipelined) request are kept, not lost.
//
// Its timer is not stopped when an answer comes and not reset for every
// request: it fires at most once per watchAfter while requests keep the
// connection busy, and finds the request it was set for answered (or a
// later one not yet due, for which it sets itself again). Arming and
// disarming are then a few atomic operations instead of two changes to
// the runtime's timer heap per request.
type watcher struct {
	cc       *clientConn
	timer    *time.Timer
	pending  atomic.Bool   // the timer is set to fire
	state    atomic.Uint64 // a request's generation << 2 | watchIdle, watchArmed or watchOn
	armedAt  atomic.Int64  // monotonic ns (since clockBase) when the request was armed
	armed    bool          // the serving goroutine's own copy: arm was called, not disarm
	done     chan struct{}
	stopping atomic.Bool
	gone     atomic.Bool                 // the client closed or reset its connection
	real     atomic.Pointer[backendConn] // woken when the client goes
}

// The low two bits of watcher.state.
const (
	watchIdle  = 0 // no request waits
	watchArmed = 1 // a request waits; not watched yet
	watchOn    = 2 // a request waits and the watch reads the client
)

// clockBase makes time.Since a monotonic clock for armedAt.
var clockBase = time.Now()

func (w *watcher) init(cc *clientConn) {
	w.cc = cc
	w.done = make(chan struct{}, 1)
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
}

// arm starts the wait for bc's answer. The client reader is not used by
// the serving goroutine until disarm returns.
func (w *watcher) arm(bc *backendConn) {
	w.gone.Store(false)
	w.real.Store(bc)
	w.armedAt.Store(int64(time.Since(clockBase)))
	// The state store orders the stores above, and this goroutine's use
	// of the reader, before the watch's (it loads the state first).
	w.state.Store((w.state.Load()>>2+1)<<2 | watchArmed)
	w.armed = true
	if w.pending.CompareAndSwap(false, true) {
		w.timer.Reset(watchAfter)
	}
}

// fire runs when the timer does: it starts the watch for a request armed
// watchAfter ago or more, sets the timer again for one armed since, and
// does nothing when no request waits.
func (w *watcher) fire() {
	w.pending.Store(false)
	v := w.state.Load()
	if v&3 != watchArmed {
		return
	}
	if left := watchAfter - (time.Since(clockBase) - time.Duration(w.armedAt.Load())); left > 0 {
		if w.pending.CompareAndSwap(false, true) {
			w.timer.Reset(left)
		}
		return
	}
	if w.state.CompareAndSwap(v, v&^3|watchOn) { // not disarmed meanwhile
		w.watch()
	}
}

func (w *watcher) watch() {
	defer func() { w.done <- struct{}{} }()
	bc := w.real.Load()
	// The idle or request deadline would end the peek: no deadline while
	// the request waits. disarm says stopping before it sets a deadline
	// in the past, and this checks stopping after clearing: a peek never
	// starts with no wake-up to come.
	_ = w.cc.c.SetReadDeadline(time.Time{})
	if w.stopping.Load() {
		return
	}
	if _, err := w.cc.br.Peek(1); err == nil || w.stopping.Load() {
		return // bytes of a next request, or disarm woke it
	}
	w.gone.Store(true)
	bc.wakeUp()
}

// disarm ends the watch; after it the reader is the serving goroutine's
// again.
func (w *watcher) disarm() {
	if !w.armed {
		return
	}
	w.armed = false
	v := w.state.Load()
	if v&3 == watchArmed && w.state.CompareAndSwap(v, v&^3|watchIdle) {
		return // not watched, and now it will not be
	}
	// The watch has begun (only fire moves the state on from armed).
	w.stopping.Store(true)
	_ = w.cc.c.SetReadDeadline(aLongTimeAgo)
	<-w.done
	w.stopping.Store(false)
	w.state.Store(w.state.Load()&^3 | watchIdle)
	w.cc.deadline = time.Time{} // past or none, whichever came last: unknown
}
