package evloop

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// Handler hears how a Pair ends. Its methods run on the loop goroutine,
// which serves many connections: they must not block (atomic counters, a
// short lock).
type Handler interface {
	// Ended reports that side's peer finished sending (EOF) and everything
	// it sent was passed on: n bytes in all. The other side got
	// shutdown(SHUT_WR), a half-close, and its direction carries on. At
	// most once per side, and not for the side that ends last: Closed
	// covers that one.
	Ended(side int, n uint64)
	// Closed reports that both sockets are closed: err is nil once both
	// directions ended, else why the pair was reset (each socket closed
	// with SO_LINGER 0, so the peers get an RST). n is the bytes relayed
	// from each side, the Ended ones included.
	Closed(err error, n [2]uint64)
}

// Pair is two connected TCP sockets relayed to each other by a loop:
// what side 0 sends goes to side 1 and back. The loop owns both
// descriptors from New on and closes them; nothing else may use them.
type Pair struct {
	l  *Loop
	h  Handler
	fd [2]int

	// The loop goroutine's alone:
	gen                   uint64 // bumped by close: a Ref of an older one is stale
	pooled                bool   // StartConnecting's: recycled once closed (pairPool)
	slot                  int32
	pad                   [2]int32 // each side's epoll event Pad (Loop.tag)
	added, closed, queued bool
	early                 error                    // reset asked before the add was run
	inspects              []func(fds [2]int) error // Inspect asked before the add was run
	readable, rdhup, eof  [2]bool                  // per side, as epoll reported and reads found
	urgent                [2]bool                  // epoll reported urgent data (EPOLLPRI) not yet read past
	markRetries           [2]int                   // turns in a row a read at the urgent mark was cut short by a signal
	wblocked, ended       [2]bool                  // a send to the side was short; the direction from the side is done
	corked                [2]bool                  // the last send to the side was SendMore's: its tail waits for the FIN
	conn                  Connector                // NewConnecting's
	connecting            bool                     // side 1 is not connected yet: nothing is relayed
	attempt               int                      // side 1's connect attempt, from 1
	expired               int                      // the attempt an Expire before the add named
	bulk                  [2]bool                  // a read from the side filled bufSize: it reads into bulkSize now
	pb                    [2]*[]byte
	off, end              [2]int // pb[s][off:end] is read from s, not yet sent on
	n                     [2]uint64
}

// ErrClosed is the error Closed reports for a Pair that could not start.
var ErrClosed = errors.New("evloop: pair reset before it started")

// New hands the connected, non-blocking sockets a and b (sides 0 and 1)
// to a loop, which relays them once Start is called. From here on the
// loop owns both; on error they are closed already.
func New(a, b int, h Handler) (*Pair, error) {
	l, err := pick()
	if err != nil {
		unix.Close(a)
		unix.Close(b)
		return nil, err
	}
	return &Pair{l: l, h: h, fd: [2]int{a, b}, slot: -1}, nil
}

// Start registers p's sockets with its loop; relaying begins at once
// (data already queued is seen: epoll reports the state at registration).
// Call it once, after the Handler is ready to hear Closed.
func (p *Pair) Start() { p.l.post(post{p: p, kind: postAdd}) }

// Abort resets both connections (RST) and reports err (non-nil) to
// Closed, unless p ended already. Safe from any goroutine, before Start
// too, and more than once. For New's and NewConnecting's Pairs, which
// are never reused; StartConnecting's go through their Ref.
func (p *Pair) Abort(err error) { p.l.post(post{p: p, kind: postAbort, err: err}) }

// Inspect runs fn on the loop goroutine with p's two descriptors while
// they are open (not at all once p ended). A non-nil result resets p with
// it, as Abort does. fn must not keep or close the descriptors.
func (p *Pair) Inspect(fn func(fds [2]int) error) {
	p.l.post(post{p: p, kind: postInspect, fn: fn})
}

// event takes an epoll event for side s and relays what it allows.
func (p *Pair) event(s int, ev uint32) {
	if p.connecting && s == 1 {
		if !p.connectEvent(ev) {
			return
		}
	} else if ev&unix.EPOLLERR != 0 {
		if e, err := soError(p.fd[s]); err != nil || e != 0 {
			if err == nil {
				err = e
			}
			p.reset(os.NewSyscallError("socket", err))
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLPRI|unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
		p.readable[s] = true
	}
	if ev&unix.EPOLLPRI != 0 {
		p.urgent[s] = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0 {
		p.rdhup[s] = true
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP) != 0 {
		p.wblocked[s] = false
	}
	if !p.connecting {
		p.relay()
	}
}

// relay moves what it can in both directions, and closes p once both
// are done.
func (p *Pair) relay() {
	for s := range 2 {
		p.move(s)
		if p.closed {
			return
		}
		if p.eof[s] && p.pb[s] == nil && !p.ended[s] {
			p.finish(s)
			if p.closed {
				return
			}
		}
	}
}

// move relays side s to the other side: first the rest of a short send,
// then a read and a send per turn while s has data, as epoll reported.
// A short read means s is drained (edge-triggered epoll reports the next
// data as a new event), with two exceptions. When urgent data is pending
// (EPOLLPRI): Linux's tcp_recvmsg stops a read at the urgent mark, and
// what follows it brings no new event, so read on until a read finds
// nothing (the urgent byte itself is skipped: out of band, as HAProxy
// leaves it). When the peer's FIN is known to be queued behind it
// (EPOLLRDHUP): read on to see the EOF, and send what
// comes with MSG_MORE, so that the half-close passing that EOF on
// (finish) carries the FIN on the data's last segment: one segment, and
// one wake-up of the peer, less for each connection that ends with an
// answer and a close (the common L4 exchange), as HAProxy's raw_sock
// sends with MSG_MORE when it knows a shutdown follows.
func (p *Pair) move(s int) {
	d := 1 - s
	if p.pb[s] != nil && !p.flush(s) {
		return
	}
	for budget := readBudget; p.readable[s] && !p.eof[s]; budget-- {
		if budget == 0 {
			p.requeue() // a bulk transfer: the rest on the next turn
			return
		}
		bp := p.l.buffer(p.bulk[s])
		buf := *bp
		n, err := rawio.Recv(uintptr(p.fd[s]), buf, 0)
		switch {
		case err == unix.EAGAIN && p.urgent[s] && p.markRetries[s] < maxMarkRetries && signalAtMark(p.fd[s]):
			// Data is queued (the urgent byte, and likely more), but a
			// read at the mark with a signal pending (Go's own SIGURG
			// preemption, SIGPROF) gives up before copying anything;
			// no new event will come for it. Come back next turn, once
			// the signal has been taken.
			p.markRetries[s]++
			p.uncork(d)
			p.requeue()
			return
		case err == unix.EAGAIN:
			// Drained. A tail left corked on d is pushed out now:
			// with no FIN queued behind the data (after one a read
			// gives data or 0, not EAGAIN, but for a signal at the
			// mark, above), none is known to be coming to carry it.
			p.readable[s], p.urgent[s] = false, false
			p.uncork(d)
			return
		case err != nil:
			p.reset(os.NewSyscallError("recvfrom", err))
			return
		case n == 0:
			p.eof[s], p.readable[s] = true, false
			return
		}
		p.n[s] += uint64(n)
		p.markRetries[s] = 0
		send := rawio.Send
		if p.rdhup[s] {
			send = rawio.SendMore
		}
		w, err := send(uintptr(p.fd[d]), buf[:n])
		p.corked[d] = p.rdhup[s]
		if err == unix.EAGAIN {
			w, err = 0, nil
		}
		if err != nil {
			p.reset(os.NewSyscallError("sendto", err))
			return
		}
		if w < n {
			// The peer's buffer is full: p keeps this buffer with the
			// rest and stops reading s until EPOLLOUT on d.
			p.pb[s], p.off[s], p.end[s] = bp, w, n
			p.l.kept(bp)
			p.wblocked[d] = true
			return
		}
		if n < len(buf) && !p.rdhup[s] && !p.urgent[s] {
			p.readable[s] = false
			return
		}
		p.bulk[s] = true
	}
}

// flush sends the rest kept from side s and reports whether all of it
// went (false: wait for EPOLLOUT, or p was reset).
func (p *Pair) flush(s int) bool {
	d := 1 - s
	if p.wblocked[d] {
		return false
	}
	w, err := rawio.Send(uintptr(p.fd[d]), (*p.pb[s])[p.off[s]:p.end[s]])
	if err == unix.EAGAIN {
		w, err = 0, nil
	}
	if err != nil {
		p.reset(os.NewSyscallError("sendto", err))
		return false
	}
	p.corked[d] = false // a send without MSG_MORE pushes the tail out
	p.off[s] += w
	if p.off[s] < p.end[s] {
		p.wblocked[d] = true
		return false
	}
	putBuf(p.pb[s])
	p.pb[s] = nil
	return true
}

// finish ends the direction from side s, whose EOF has been passed on:
// a half-close of the other side, or, when that side's direction ended
// first, a close of both (close(2) sends the FIN that shutdown(2) would;
// nothing is left unread either way, so it is not a reset).
func (p *Pair) finish(s int) {
	p.ended[s] = true
	if p.ended[1-s] {
		p.close(nil, false)
		return
	}
	if err := shutdownWR(p.fd[1-s]); err != nil {
		p.reset(os.NewSyscallError("shutdown", err))
		return
	}
	p.h.Ended(s, p.n[s])
}

// maxMarkRetries bounds the turns a side comes back for a read cut short
// at the urgent mark (signalAtMark), so that a mark the kernel never
// lets a read past cannot keep the loop from parking: after that the
// side waits for its next event, as any drained side does.
const maxMarkRetries = 1000

// signalAtMark reports whether an EAGAIN on fd came from a read at the
// urgent mark cut short by a pending signal rather than from an empty
// queue: tcp_recvmsg, at the mark with nothing copied yet, returns EAGAIN
// when the reader has a signal pending (net/ipv4/tcp.c). At the mark
// (SIOCATMARK, tcp(7)) with the urgent byte itself there (MSG_OOB with
// MSG_PEEK returns it; EAGAIN while its segment has not come), a read
// would have copied or skipped it; after a read past the mark,
// SIOCATMARK is 0.
func signalAtMark(fd int) bool {
	at, err := unix.IoctlGetInt(fd, unix.SIOCATMARK)
	if err != nil || at != 1 {
		return false
	}
	var b [1]byte
	n, err := rawio.Recv(uintptr(fd), b[:], unix.MSG_OOB|unix.MSG_PEEK)
	return err == nil && n == 1
}

// uncork pushes out a tail left by SendMore on side d, when no FIN is
// coming to carry it (TCP_NODELAY pushes what is pending, tcp(7)).
func (p *Pair) uncork(d int) {
	if p.corked[d] {
		p.corked[d] = false
		if err := SetNoDelay(p.fd[d]); err != nil {
			p.reset(os.NewSyscallError("setsockopt", err))
		}
	}
}

// requeue has the loop come back to p after this batch.
func (p *Pair) requeue() {
	if !p.queued {
		p.queued = true
		p.l.again = append(p.l.again, p)
	}
}

// reset closes both sockets with an RST and reports err.
func (p *Pair) reset(err error) { p.close(err, true) }

// close closes both sockets (they leave the epoll set with their last
// descriptor; the late events of one a forked child still holds are
// dropped by its tag), frees what p holds and tells the Handler.
func (p *Pair) close(err error, rst bool) {
	if p.closed {
		return
	}
	p.closed = true
	for s, fd := range p.fd {
		if fd < 0 {
			continue // a failed connect's, closed already
		}
		if rst {
			CloseReset(fd)
		} else {
			closeFD(fd)
		}
		if p.pb[s] != nil {
			putBuf(p.pb[s])
			p.pb[s] = nil
		}
	}
	p.gen++
	p.l.release(p)
	if p.pooled {
		p.l.pool.closed = append(p.l.pool.closed, p)
	}
	p.h.Closed(err, p.n)
}
