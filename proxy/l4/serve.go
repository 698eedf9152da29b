package l4

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/accept"
	"github.com/hapair/hapair/proxy/evloop"
)

// acceptBudget bounds the connections one loop accepts per turn, so that
// a burst of new clients cannot hold up the established ones in its loop;
// the rest are taken on the next turn. HAProxy 2.6's tune.maxaccept
// defaults to 4 ("showed best results"); here 4 changed nothing measurable:
// L4 new-connection A/B of 4 against 64, 10 interleaved rounds (bench
// -base), req/s 1.02x (0.86-1.24), p99 1.02x (0.80-1.41), CPU per
// request 0.97x.
const acceptBudget = 64

// closeCheck is how often Serve looks whether its listener was closed,
// when no gate's done channel (SetGate) tells it. Nothing else does: the
// listener's descriptor is in the loops' epoll sets, not waited on in
// Go's poller (a goroutine waiting in Accept would be woken for every
// connection, which is what this saves), and its close takes it out of
// those sets without an event. A service closes its gate's done channel
// with the listener, which ends Serve at once, so a service's Serve never
// polls: 10 wake-ups a second per service were half an idle daemon's CPU
// (DESIGN.md: under 1% of a core). Only a caller without a gate (tests)
// gets this bound on its wait.
const closeCheck = 100 * time.Millisecond

// Serve accepts connections on ln until ln is closed or the gate's done
// channel (SetGate) closes; it then returns nil, and accepts no more. It
// returns accept4's error if ln stops listening under it (shut down).
// The accepting is done by the event loops themselves (package evloop):
// ln's descriptor is registered with each loop, which on EPOLLIN takes
// the queued connections with accept4(2) and starts the connect to a
// real on the spot, with no goroutine or wake-up per connection. Serve's
// own goroutine only waits at the gate's limit for the loops (maxconn)
// and watches for the end. Accept errors (EMFILE) back off from 5ms to
// 1s, the connection left queued, and are logged at most once per 10s
// (internal/pacer).
func (t *TCPProxy) Serve(ln *net.TCPListener) error {
	loops, err := evloop.Loops()
	if err != nil {
		return err
	}
	rc, err := ln.SyscallConn()
	if err != nil {
		return err
	}
	// Accepted sockets inherit TCP_NODELAY from the listener (the kernel
	// copies the listener's tcp_sock): one setsockopt per listener instead
	// of one per connection.
	nodelay := setListenerNoDelay(ln) == nil
	s := &tcpServe{t: t, rc: rc, slots: make(chan *loopAcceptor, len(loops)), closed: make(chan struct{})}
	for _, l := range loops {
		acc, err := accept.New(ln)
		if err != nil {
			return err
		}
		s.accs = append(s.accs, &loopAcceptor{s: s, l: l, acc: acc, nodelay: nodelay})
	}
	if err := s.each((*loopAcceptor).register); err != nil {
		s.each((*loopAcceptor).stop)
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return err
	}
	defer s.each((*loopAcceptor).stop)
	var tick <-chan time.Time // nil: never fires
	if t.gateDone == nil {
		tk := time.NewTicker(closeCheck)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-s.closed:
			return s.err
		case <-t.gateDone:
			return nil
		case a := <-s.slots:
			if !t.gate.Acquire(t.gateDone) {
				return nil
			}
			a.l.Post(a.gotSlot)
		case <-tick:
			if rc.Control(func(uintptr) {}) != nil {
				return nil
			}
		}
	}
}

// tcpServe is one Serve call: a listener served by every loop.
type tcpServe struct {
	t         *TCPProxy
	rc        syscall.RawConn // the listener's
	accs      []*loopAcceptor // one per loop
	slots     chan *loopAcceptor
	closed    chan struct{} // closed once a loop found the listener closed or failed
	err       error         // why it failed; nil for closed
	closeOnce sync.Once
}

// each runs fn on every loop acceptor's loop and waits for all; the
// first error is returned.
func (s *tcpServe) each(fn func(*loopAcceptor) error) error {
	errs := make(chan error, len(s.accs))
	for _, a := range s.accs {
		a.l.Post(func() { errs <- fn(a) })
	}
	var first error
	for range s.accs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// lnClosed ends Serve: a loop found the listener closed.
func (s *tcpServe) lnClosed() { s.closeOnce.Do(func() { close(s.closed) }) }

// failed ends Serve with err: a loop found the listener unusable.
func (s *tcpServe) failed(err error) {
	s.closeOnce.Do(func() {
		s.err = err
		close(s.closed)
	})
}

// listenerFailed reports whether accept4's err means the listener itself
// is unusable (no longer listening: shut down under us), not a shortage
// (EMFILE, ENFILE, ENOBUFS, ENOMEM) or a network error passed on from a
// connection (accept(2) lists those), which are ridden out.
func listenerFailed(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOTSOCK)
}

// loopAcceptor is the listener as one loop's Socket. Its fields are the
// loop goroutine's.
type loopAcceptor struct {
	s       *tcpServe
	l       *evloop.Loop
	acc     *accept.Acceptor
	nodelay bool // accepted sockets inherit TCP_NODELAY

	reg        evloop.Reg
	registered bool
	held       bool // holds a gate slot for the next connection
	waiting    bool // asked Serve's goroutine for a slot
	backoff    *evloop.Timer
	failing    bool // the last accept failed (pacer's run of failures)
	stopped    bool
	again      func()   // a.more, made once
	conns      connPool // tcpConns to reuse on this loop
}

// register adds the listener to a's loop (inside the listener's Control,
// which keeps its descriptor from being closed meanwhile) and takes the
// connections already queued.
func (a *loopAcceptor) register() error {
	a.again = a.more
	var rerr error
	err := a.s.rc.Control(func(fd uintptr) {
		a.reg, rerr = a.l.Register(int(fd), a, unix.EPOLLIN|unix.EPOLLET)
	})
	if err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	a.registered = true
	a.take()
	return nil
}

// stop ends a's accepting and gives back the slot it holds.
func (a *loopAcceptor) stop() error {
	if a.stopped {
		return nil
	}
	a.stopped = true
	if a.backoff != nil {
		a.backoff.Stop()
	}
	if a.held {
		a.held = false
		a.s.t.gate.Release()
	}
	if a.registered {
		a.registered = false
		// While Control holds the descriptor, its number is the
		// listener's; once closed, the close took it out of the set.
		if err := a.s.rc.Control(func(uintptr) { a.l.Unregister(a.reg) }); err != nil {
			a.l.Forget(a.reg)
		}
	}
	return nil
}

// Ready takes the queued connections: the listener's EPOLLIN.
func (a *loopAcceptor) Ready(uint32) { a.take() }

// more is take on a later turn, after acceptBudget connections.
func (a *loopAcceptor) more() { a.take() }

// gotSlot takes the gate slot Serve's goroutine acquired for a.
func (a *loopAcceptor) gotSlot() {
	a.waiting = false
	if a.stopped {
		a.s.t.gate.Release()
		return
	}
	a.held = true
	a.take()
}

// resume ends an accept error's backoff.
func (a *loopAcceptor) resume() {
	a.backoff = nil
	a.take()
}

// take accepts queued connections until none is left (accept4's
// EAGAIN: the next one is a new edge), acceptBudget of them at most. A
// gate slot is taken before each, as the accept loop took it before: a
// full gate leaves the connections queued in the listen backlog while
// Serve's goroutine waits for a slot.
func (a *loopAcceptor) take() {
	if a.stopped || a.waiting || a.backoff != nil {
		return
	}
	t := a.s.t
	for range acceptBudget {
		if !a.held {
			if !t.gate.TryAcquire() {
				a.waiting = true
				a.s.slots <- a // room for every loop: at most one ask each
				return
			}
			a.held = true
		}
		fd, from, err := a.acc.TryAccept()
		switch {
		case err == unix.EAGAIN:
			return // the slot is kept for the next connection
		case err != nil && errors.Is(err, net.ErrClosed):
			a.s.lnClosed()
			return
		case err != nil && listenerFailed(err):
			a.s.failed(err)
			return
		case err != nil:
			// EMFILE and the like: the connection stays queued, and a
			// timer takes it once the pause is over.
			a.held = false
			t.gate.Release()
			a.failing = true
			a.backoff = a.l.After(t.pace.Fail(err), a.resume)
			return
		}
		a.held = false
		if a.failing {
			a.failing = false
			t.pace.OK()
		}
		if !t.active.Load() {
			t.gate.Release()
			t.refused.Add(1)
			evloop.CloseReset(fd) // RST: the client retries elsewhere at once
			continue
		}
		if !a.nodelay {
			_ = evloop.SetNoDelay(fd) // as the net package does
		}
		t.accepted.Add(1)
		t.start(a, fd, from)
	}
	a.l.Post(a.again)
}
