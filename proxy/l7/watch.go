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
type watcher struct {
	cc       *clientConn
	timer    *time.Timer
	armed    bool
	done     chan struct{}
	stopping atomic.Bool
	gone     atomic.Bool                 // the client closed or reset its connection
	real     atomic.Pointer[backendConn] // woken when the client goes
}

func (w *watcher) init(cc *clientConn) {
	w.cc = cc
	w.done = make(chan struct{}, 1)
	w.timer = time.AfterFunc(time.Hour, w.watch)
	w.timer.Stop()
}

// arm starts the wait for bc's answer. The client reader is not used by
// the serving goroutine until disarm returns.
func (w *watcher) arm(bc *backendConn) {
	w.gone.Store(false)
	// The store also orders this goroutine's use of the reader before
	// the watch's (it loads w.real first).
	w.real.Store(bc)
	w.timer.Reset(watchAfter)
	w.armed = true
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
	if w.timer.Stop() {
		return
	}
	w.stopping.Store(true)
	_ = w.cc.c.SetReadDeadline(aLongTimeAgo)
	<-w.done
	w.stopping.Store(false)
	w.cc.deadline = time.Time{} // past or none, whichever came last: unknown
}
