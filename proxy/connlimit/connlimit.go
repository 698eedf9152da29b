// Package connlimit bounds concurrent client connections the way HAProxy's
// maxconn does, per service and for the whole balancer, so that clients
// alone can never use up the process's file descriptors (each proxied TCP
// connection holds FDsPerConn). At the limit the
// accept loop stops accepting and new connections wait in the kernel's
// listen backlog, as with HAProxy, instead of being accepted and dropped.
//
// It owns counting only; the accept loops in proxy/l4 and proxy/l7 call
// Gate.Acquire before accepting and Gate.Release when a connection ends.
package connlimit

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// Limit is a counting semaphore with an adjustable maximum. The zero value
// has no maximum. It is safe for concurrent use.
type Limit struct {
	mu    sync.Mutex
	max   int // <= 0: none
	n     int
	freed chan struct{} // closed (and replaced) when a slot frees or max grows
	// waiting is how many acquires wait on freed: a release with none
	// makes and closes no channel (two of each per connection before).
	waiting int
	waits   atomic.Uint64
}

// New returns a Limit of max connections (<= 0: none).
func New(max int) *Limit { return &Limit{max: max, freed: make(chan struct{})} }

// SetMax changes the maximum (a reload); connections above a lowered
// maximum are not closed, new ones wait until the count is below it.
func (l *Limit) SetMax(max int) {
	l.mu.Lock()
	l.max = max
	l.wakeLocked()
	l.mu.Unlock()
}

func (l *Limit) wakeLocked() {
	if l.freed != nil {
		close(l.freed)
	}
	l.freed = make(chan struct{})
}

// acquire takes a slot, waiting while the limit is reached; it returns
// false when done closes first.
func (l *Limit) acquire(done <-chan struct{}) bool {
	waited := false
	l.mu.Lock()
	for {
		if l.max <= 0 || l.n < l.max {
			l.n++
			if waited {
				l.waiting--
			}
			l.mu.Unlock()
			return true
		}
		if !waited {
			// Counted before the channel is taken, under the lock: a
			// release after this point closes the channel taken here.
			waited = true
			l.waiting++
			l.waits.Add(1)
		}
		if l.freed == nil {
			l.freed = make(chan struct{})
		}
		ch := l.freed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			l.mu.Lock()
			l.waiting--
			l.mu.Unlock()
			return false
		}
		l.mu.Lock()
	}
}

// tryAcquire takes a slot if there is room, without waiting (and without
// counting a wait).
func (l *Limit) tryAcquire() bool {
	l.mu.Lock()
	ok := l.max <= 0 || l.n < l.max
	if ok {
		l.n++
	}
	l.mu.Unlock()
	return ok
}

func (l *Limit) release() {
	l.mu.Lock()
	l.n--
	if l.waiting > 0 {
		l.wakeLocked()
	}
	l.mu.Unlock()
}

// Stats are a Limit's state: slots held (connections, plus one per accept
// loop waiting for its next client, since a slot is taken before accepting),
// the maximum (0: none), and how many times an accept loop had to wait.
type Stats struct {
	InUse int    `json:"in_use"`
	Max   int    `json:"max"`
	Waits uint64 `json:"waits"`
}

// Stats returns the current state.
func (l *Limit) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{InUse: l.n, Max: max(l.max, 0), Waits: l.waits.Load()}
}

// Gate admits one connection through several Limits (a service's and the
// balancer's), taken in order and given back together. A nil *Gate admits
// everything.
type Gate struct {
	limits []*Limit
}

// NewGate returns a gate through limits; nil entries are skipped.
func NewGate(limits ...*Limit) *Gate {
	g := &Gate{}
	for _, l := range limits {
		if l != nil {
			g.limits = append(g.limits, l)
		}
	}
	return g
}

// Acquire waits until every limit has room and takes a slot in each; it
// returns false, holding nothing, when done closes first.
func (g *Gate) Acquire(done <-chan struct{}) bool {
	if g == nil {
		return true
	}
	for i, l := range g.limits {
		if !l.acquire(done) {
			for _, h := range g.limits[:i] {
				h.release()
			}
			return false
		}
	}
	return true
}

// TryAcquire takes a slot in every limit if each has room, and reports
// whether it did; it never waits, and holds nothing when it fails. It is
// for an accept loop that cannot block (an event loop's listener), which
// then leaves the wait to Acquire on a goroutine of its own.
func (g *Gate) TryAcquire() bool {
	if g == nil {
		return true
	}
	for i, l := range g.limits {
		if !l.tryAcquire() {
			for _, h := range g.limits[:i] {
				h.release()
			}
			return false
		}
	}
	return true
}

// Release gives back the slots one Acquire took, in reverse order, so a
// waiter woken by the first limit finds room in the later ones.
func (g *Gate) Release() {
	if g == nil {
		return
	}
	for i := len(g.limits) - 1; i >= 0; i-- {
		g.limits[i].release()
	}
}

// Reserve is how many descriptors DefaultMax leaves for everything but
// client connections (heartbeat and control sockets, netlink, health
// checks, UDP flows): a quarter of the limit, at most 1024.
func Reserve(nofile int) int { return min(nofile/4, 1024) }

// FDsPerConn is what one proxied TCP connection holds in descriptors: the
// client's socket and the real's. proxy/l4 relays in its event loops with
// buffers, not splice(2) pipes; proxy/l7's idle keep-alive connections to
// reals were each in use by a client connection before, so they never
// outnumber the client connections the limit counts. HAProxy derives its
// default maxconn the same way, with pipes counted apart (maxpipes).
const FDsPerConn = 2

// DefaultMax is the balancer-wide maxconn derived from the process's
// descriptor limit, as HAProxy derives its default maxconn from ulimit -n:
// (RLIMIT_NOFILE - Reserve) / FDsPerConn. It returns 0 (no limit) when the
// limit cannot be read or is unlimited.
func DefaultMax() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return maxFor(r.Cur)
}

// maxFor is DefaultMax for a descriptor limit of nofile (0: unlimited).
func maxFor(nofile uint64) int {
	if nofile == ^uint64(0) || nofile > 1<<30 {
		return 0
	}
	n := int(nofile)
	return max((n-Reserve(n))/FDsPerConn, 1)
}
