// Package evloop relays established TCP connections in pairs from event
// loops of its own, the way HAProxy's epoll poller does: one epoll(7)
// instance per loop, each socket registered edge-triggered for EPOLLIN,
// EPOLLOUT and EPOLLRDHUP, and for each event one recv(2) into a buffer
// and one send(2) straight to the peer.
//
// Why not net.Conn: Go's poller always tries the read before it waits
// (internal/poll clears readiness first), so a relay goroutine per
// direction pays an empty recv (EAGAIN), a park and a wake-up per message.
// Here a loop waits first and reads only sockets epoll reported, and one
// wake-up serves every connection with news.
//
// A loop is a goroutine, not a locked thread: its epoll descriptor is
// itself registered with Go's poller (an epoll descriptor is readable while
// its ready list is not empty), so an idle loop parks like any goroutine
// and costs no thread, and a busy one never enters a blocking system call
// that would make the runtime hand its P to another thread.
//
// Other descriptors (listeners, HTTP connections) live on the same loops
// as Sockets (Register), with timers of the loop's own (After), so that
// accepting or serving a connection costs no goroutine either.
//
// It owns the sockets of every Pair it is given, and closes them; it must
// not decide where a connection goes or count anything but bytes: the
// Handler (package l4) does.
package evloop

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bufSize is the read buffer, HAProxy's default tune.bufsize (16 KiB): a
// request or an answer of a few KiB moves with one recv and one send.
// bulkSize is the buffer of a side whose read once filled bufSize (a
// bulk transfer, where HAProxy's splice-auto turns to splice(2)): 64 MiB
// downloads through loopback (BenchmarkTCPBulk in package l4, same loaded
// machine, 4 runs each) moved 0.82-1.03 GB/s this way, 0.77-1.04 with the
// splice(2) relay this loop replaced, 0.72-0.94 with 16 KiB copies.
const (
	bufSize  = 16 << 10
	bulkSize = 256 << 10
)

// maxEvents is how many events one epoll_wait returns at most.
const maxEvents = 128

// readBudget bounds the reads one side gets per turn while it keeps
// filling the buffer (a bulk transfer), so that one fast connection
// cannot starve the others in its loop: 64 × 16 KiB = 1 MiB.
const readBudget = 64

// bufs and bulkBufs hold buffers a Pair keeps while a send was short
// (the rest waits for EPOLLOUT); a loop reads into its own spare ones.
var (
	bufs     = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}
	bulkBufs = sync.Pool{New: func() any { b := make([]byte, bulkSize); return &b }}
)

// putBuf returns a kept buffer to its pool.
func putBuf(b *[]byte) {
	if len(*b) == bulkSize {
		bulkBufs.Put(b)
		return
	}
	bufs.Put(b)
}

// Loop is one epoll instance and the goroutine that serves it. Fields
// below mu are the loop goroutine's alone.
type Loop struct {
	epfd, efd int      // the epoll instance and the eventfd that wakes it for posts
	file      *os.File // epfd in Go's poller; held so its finalizer never closes it

	rc syscall.RawConn // file's, for waiting in Go's poller

	mu       sync.Mutex
	posts    []post
	sleeping bool // parked with an empty queue: the next post writes efd
	running  bool // a goroutine serves the loop (none while it holds no Pair)

	pairs  []*Pair // by slot (the epoll event's data)
	free   []int32 // slots to reuse
	freed  []int32 // slots freed in this batch: reused after it, so that a stale event in the batch finds its closed Pair
	events [maxEvents]unix.EpollEvent
	spare  *[]byte // the read buffer, swapped out when a Pair keeps it
	bulk   *[]byte // the same for bulk sides, taken on first use
	again  []*Pair // pairs whose sides ran out of readBudget
	pool   pairPool
	after  []func() // AfterBatch's, run at the end of this batch
	after2 []func() // the list being run, reused
	live   int      // pairs added and not closed, sockets registered
	taken  []post   // the posts being run, reused

	socks               []Socket // by slot (the event's data, Pad sockSide); nil once unregistered
	sockPad             []int32  // by slot: the Pad its Socket was registered with (tag)
	regs                uint32   // registrations made, for tag
	sockFree, sockFreed []int32  // as free and freed for pairs
	timers              []*Timer // a min-heap by when
	armed               int64    // the read deadline set on file (nanoclock), 0 for none
	sockLevel           []bool   // by slot: the Socket is registered level-triggered
	level               int      // how many are
}

// post is a request from another goroutine: add p, reset p, run fn on
// p's sockets, or call a function (Post). A post made through a Ref
// (ref) names p's generation: it is dropped if p was closed and handed
// out again since.
type post struct {
	p       *Pair
	ref     bool
	gen     uint64
	kind    int
	err     error
	fn      func(fds [2]int) error
	attempt int
	call    func() // postCall's
}

const (
	postAdd = iota
	postAbort
	postInspect
	postExpire
	postCall
)

// pairEvents is what a Pair's sockets are registered for (epoll(7)):
// edge-triggered, so each change is reported once. EPOLLPRI says urgent
// data (MSG_OOB) is pending, at which a read stops short (Pair.move).
const pairEvents = unix.EPOLLIN | unix.EPOLLPRI | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

var (
	loopsOnce sync.Once
	loops     []*Loop
	loopsErr  error
	nextLoop  atomic.Uint32
)

// pick returns a loop for a new Pair, starting the loops on first use:
// one per CPU the process may run on (at most GOMAXPROCS), each Pair to
// the next in turn. Not one per P: the balancer runs with a second P on
// a single CPU (proxy's minProcs), for Go's poller, not for more loops.
func pick() (*Loop, error) {
	loopsOnce.Do(func() {
		for range loopCount() {
			l, err := newLoop()
			if err != nil {
				loopsErr = err
				return
			}
			loops = append(loops, l)
		}
	})
	if loopsErr != nil {
		return nil, loopsErr
	}
	return loops[int(nextLoop.Add(1))%len(loops)], nil
}

// loopCount is the number of CPUs in the process's affinity, at most
// GOMAXPROCS (GOMAXPROCS when the affinity cannot be read).
func loopCount() int {
	n := runtime.GOMAXPROCS(0)
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil && set.Count() > 0 {
		n = min(n, set.Count())
	}
	return n
}

// eventfdSlot marks the eventfd's epoll event (no Pair has this slot).
const eventfdSlot = -1

func newLoop() (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: eventfdSlot}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	// Go's poller waits on the epoll descriptor for us; it must be
	// non-blocking for os.NewFile to register it there.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(epfd), "evloop")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(efd)
		return nil, err
	}
	return &Loop{epfd: epfd, efd: efd, file: f, rc: rc, spare: bufs.Get().(*[]byte)}, nil
}

// run serves the loop until it holds no Pair, Socket or Timer and nothing
// is posted: the
// epoll instance stays for the life of the process, its goroutine only
// while there is work (so an idle balancer runs none, and a test that
// counts goroutines finds none left).
func (l *Loop) run() {
	stop := false
	turn := func(uintptr) bool { return l.turn(&stop) }
	for !stop {
		err := l.rc.Read(turn)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The next timer is due (or was, before it stopped): the
			// deadline is cleared, so that the next Read waits again,
			// and the turn runs what is due.
			l.disarm()
			continue
		}
		if err != nil {
			panic("evloop: waiting on epoll: " + err.Error()) // l.file is never closed
		}
	}
}

// post queues a request and wakes the loop if it sleeps, or starts its
// goroutine.
func (l *Loop) post(q post) {
	l.mu.Lock()
	l.posts = append(l.posts, q)
	wake, start := l.sleeping, !l.running
	l.sleeping, l.running = false, true
	l.mu.Unlock()
	if start {
		go l.run()
		return
	}
	if wake {
		one := uint64(1)
		// EAGAIN only when the counter is full, which means a wake-up is
		// pending anyway.
		unix.RawSyscall(unix.SYS_WRITE, uintptr(l.efd), uintptr(unsafe.Pointer(&one)), 8)
	}
}

// turn is one pass of the loop, called by Go's poller: it takes what epoll
// has (without waiting) and the posted requests, and reports false, to be
// parked until epoll has news, when there was nothing. With nothing and
// no Pair it sets *stop: the goroutine ends (and the next post starts
// another; l.mu orders the two).
func (l *Loop) turn(stop *bool) bool {
	n, err := epollWait(l.epfd, l.events[:])
	if err != nil {
		n = 0 // EINTR is retried by epollWait; nothing else happens on a valid epfd
	}
	due := l.due()
	l.mu.Lock()
	l.taken, l.posts = l.posts, l.taken[:0]
	if n == 0 && len(l.taken) == 0 && len(l.again) == 0 && len(l.after) == 0 && !due {
		if l.live == 0 && len(l.timers) == 0 {
			if l.armed != 0 {
				l.disarm() // no timer is left: the next run starts with none
			}
			l.running, *stop = false, true
			l.mu.Unlock()
			return true
		}
		l.sleeping = true
		l.mu.Unlock()
		l.arm()
		return false
	}
	l.sleeping = false
	l.mu.Unlock()
	for i := range l.taken {
		l.run1(&l.taken[i])
		l.taken[i] = post{}
	}
	for i := range n {
		ev := &l.events[i]
		if ev.Fd == eventfdSlot {
			var b [8]byte
			unix.RawSyscall(unix.SYS_READ, uintptr(l.efd), uintptr(unsafe.Pointer(&b)), 8)
			continue
		}
		// An event whose Pad is not its slot's current one is a stale
		// registration's (see tag): dropped.
		side := ev.Pad & sideMask
		if side == sockSide {
			if s := l.socks[ev.Fd]; s != nil && l.sockPad[ev.Fd] == ev.Pad {
				s.Ready(ev.Events)
			}
			continue
		}
		if p := l.pairs[ev.Fd]; p != nil && !p.closed && p.pad[side] == ev.Pad {
			p.event(int(side), ev.Events)
		}
	}
	if len(l.again) > 0 {
		again := l.again
		l.again = nil
		for _, p := range again {
			p.queued = false
			if !p.closed {
				p.relay()
			}
		}
		clear(again)
		if l.again == nil {
			l.again = again[:0]
		}
	}
	if due {
		l.runTimers()
	}
	for _, slot := range l.freed {
		l.pairs[slot] = nil
	}
	l.free = append(l.free, l.freed...)
	l.freed = l.freed[:0]
	l.sockFree = append(l.sockFree, l.sockFreed...)
	l.sockFreed = l.sockFreed[:0]
	l.pool.recycle()
	l.runAfter()
	return l.busy(n)
}

// AfterBatch runs fn on l's goroutine at the end of the current turn,
// once every event, post and timer of its batch was handled: the point
// where nothing of the batch can still reach an object closed in it, so
// the caller may reuse that object (package l4 recycles its connections
// there, as the loop recycles its Pairs). fn runs once; one added while
// the hooks run waits for the next turn. Loop goroutine only.
func (l *Loop) AfterBatch(fn func()) { l.after = append(l.after, fn) }

// runAfter runs the AfterBatch hooks of this turn.
func (l *Loop) runAfter() {
	if len(l.after) == 0 {
		return
	}
	run := l.after
	l.after = l.after2[:0]
	for _, fn := range run {
		fn()
	}
	clear(run)
	l.after2 = run[:0]
}

// busy reports, at the end of a turn that took n events, whether the
// next turn must run at once (true) or the loop may park in Go's poller
// (false) without first asking epoll for what came during this turn: an
// event queued after our epoll_wait makes the epoll descriptor readable
// to Go's poller again (a new edge, remembered by its pollDesc even
// while the goroutine runs), so the wake-up is not lost, and an idle
// loop waits with one epoll_wait (Go's) instead of two (an empty one of
// ours, then Go's). Not when the batch was full (more may be ready with
// no new edge), when sides are queued for another turn, when posts
// arrived (a poster that found the loop awake wrote no eventfd), when a
// hook added an AfterBatch hook, while a Socket is level-triggered
// (setLevel), or when the loop holds nothing (the next turn ends its
// goroutine).
//
// Measured and not kept: a turn that took events holding the loop in
// its own epoll_wait for up to 1 ms instead of parking (HAProxy's way,
// one epoll_wait per wake-up instead of Go's and ours), A/B in the
// pinned bench, 10 interleaved rounds, new/old. As Syscall6, which lets
// the runtime hand the P off while the thread waits: L4 keep-alive req/s
// 0.76x, CPU per request 1.59x. As RawSyscall6, which keeps the P
// blocked (and so delays a stop-the-world, or every goroutine under
// GOMAXPROCS=1, by up to the hold): L4 keep-alive req/s 1.03x (0.84-1.10),
// p99 0.90x, CPU per request 0.98x; new connection per request 1.00x,
// p99 1.02x. Within the bench's noise, and not worth a blocked P.
func (l *Loop) busy(n int) bool {
	if n == len(l.events) || len(l.again) > 0 || len(l.after) > 0 || l.level > 0 || (l.live == 0 && len(l.timers) == 0) {
		return true
	}
	l.mu.Lock()
	if len(l.posts) > 0 {
		l.mu.Unlock()
		return true
	}
	l.sleeping = true
	l.mu.Unlock()
	l.arm()
	return false
}

// run1 carries out one posted request.
func (l *Loop) run1(q *post) {
	p := q.p
	if q.ref && p.gen != q.gen {
		return // p ended, and may serve another connection now
	}
	switch q.kind {
	case postCall:
		q.call()
	case postAdd:
		l.add(p)
	case postAbort:
		if !p.added {
			p.early = q.err // reset once its add arrives
			return
		}
		p.reset(q.err)
	case postExpire:
		if !p.added {
			p.expired = q.attempt // a timer shorter than the way to the loop
			return
		}
		if !p.closed && p.connecting && p.attempt == q.attempt {
			p.redial(ErrConnectTimeout)
		}
	case postInspect:
		if !p.added {
			p.inspects = append(p.inspects, q.fn) // run once it is added
			return
		}
		if !p.closed {
			if err := q.fn(p.fd); err != nil {
				p.reset(err)
			}
		}
	}
}

// add gives p a slot and registers its sockets.
func (l *Loop) add(p *Pair) {
	p.added = true
	l.live++
	if p.early != nil {
		p.reset(p.early)
		return
	}
	if k := len(l.free); k > 0 {
		p.slot = l.free[k-1]
		l.free = l.free[:k-1]
	} else {
		p.slot = int32(len(l.pairs))
		l.pairs = append(l.pairs, nil)
	}
	l.pairs[p.slot] = p
	for side, fd := range p.fd {
		p.pad[side] = l.tag(int32(side))
		ev := unix.EpollEvent{Events: pairEvents, Fd: p.slot, Pad: p.pad[side]}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			p.reset(os.NewSyscallError("epoll_ctl", err))
			return
		}
	}
	if p.connecting && p.expired == p.attempt {
		p.redial(ErrConnectTimeout)
	}
	for _, fn := range p.inspects {
		if p.closed {
			break
		}
		if err := fn(p.fd); err != nil {
			p.reset(err)
		}
	}
	p.inspects = nil
}

// buffer returns the loop's spare read buffer, the bulk one for a bulk
// side.
func (l *Loop) buffer(bulk bool) *[]byte {
	if !bulk {
		return l.spare
	}
	if l.bulk == nil {
		l.bulk = bulkBufs.Get().(*[]byte)
	}
	return l.bulk
}

// kept replaces the spare buffer b, which a Pair now keeps.
func (l *Loop) kept(b *[]byte) {
	if b == l.bulk {
		l.bulk = nil // taken again from the pool on next use
		return
	}
	l.spare = bufs.Get().(*[]byte)
}

// release frees p's slot (after this batch).
func (l *Loop) release(p *Pair) {
	l.live--
	if p.slot >= 0 {
		l.freed = append(l.freed, p.slot)
	}
}

// epollWait returns the events ready now, without waiting (timeout 0, so
// a raw system call: no hand-off of the P). epoll_pwait with no signal
// mask is epoll_wait, and exists on every architecture.
func epollWait(epfd int, evs []unix.EpollEvent) (int, error) {
	for {
		n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
			uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}
