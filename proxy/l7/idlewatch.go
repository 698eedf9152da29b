package l7

import (
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/proxy/rawio"
)

// This file checks the pool's idle connections in batches. A connection
// taken from the pool must not have been closed by its real, nor hold
// bytes the real sent unasked (alive's peek). Peeking each one as it is
// taken cost an empty recv(2) per request, 2.2 µs of the 28 µs the
// HTTP keep-alive bench spends per request. Instead every connection of
// the pool is registered, once at dial, in an epoll(7) instance of the
// pool's, level-triggered for EPOLLIN and EPOLLRDHUP: one epoll_wait with
// no timeout then lists every connection holding a byte or a FIN, and
// any connection idle since before that call and not listed is as good
// as a peek at that moment would have found it. HAProxy watches its idle
// server connections the same way, through its poller.
//
// A check vouches for checkValid at most: a connection is taken with no
// system call when a check that began after it went idle is that recent,
// and a new check is made otherwise (which covers every idle connection
// at once). The peek's own window (from the peek to the request's send)
// thus grows to at most checkValid; a real closing in it costs a stale
// retry for a replayable request, as it did before.

// checkValid is how long a check vouches for the connections it found
// clean: under load a check serves the requests of about that long, and
// a real's keep-alive timeout or a stray answer is seen at most this late.
const checkValid = time.Millisecond

// watchIdle registers bc in p's epoll instance (made at the first dial),
// so that checks cover it. The caller holds p.mu. Without it (the
// instance could not be made, or the pool is closed) bc is peeked when
// taken, as before.
func (p *connPool) watchIdle(bc *backendConn) {
	bc.fd = -1
	if p.closed || p.epfd < 0 {
		return
	}
	if p.epfd == 0 {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			p.epfd = -1
			return
		}
		p.epfd = fd
		p.watched = make(map[int32]*backendConn)
	}
	var fd int32 = -1
	if bc.rc.Control(func(s uintptr) { fd = int32(s) }) != nil || fd < 0 {
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: fd}
	if unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev) != nil {
		return
	}
	bc.fd, bc.pool = fd, p
	p.watched[fd] = bc
}

// unwatch forgets bc before it is closed (closing its socket takes it out
// of the epoll instance).
func (p *connPool) unwatch(bc *backendConn) {
	p.mu.Lock()
	if p.watched[bc.fd] == bc {
		delete(p.watched, bc.fd)
	}
	p.mu.Unlock()
}

// check lists the watched connections with something to read (or a FIN),
// takes those that are idle out of the pool into dead, and starts a new
// check generation: every connection idle now is covered by it. It
// reports false when epoll_wait failed (nothing is covered then). The
// caller holds p.mu and closes dead after unlocking.
func (p *connPool) check(dead []*backendConn) ([]*backendConn, bool) {
	p.checkSeq++
	if n := len(p.watched) + 1; len(p.events) < n {
		p.events = make([]unix.EpollEvent, n+n/2)
	}
	n, err := rawio.Call(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd), uintptr(unsafe.Pointer(&p.events[0])),
		uintptr(len(p.events)), 0, 0, 0)
	if err != nil {
		p.checkedAt = -p.checkValid
		return dead, false
	}
	p.checkedAt = time.Since(clockBase)
	for _, ev := range p.events[:n] {
		bc := p.watched[ev.Fd]
		if bc == nil || !bc.idle {
			continue // busy: its answer, read by its request
		}
		for i, c := range p.idle[bc.addr] {
			if c == bc {
				dead = append(dead, p.take(bc.addr, i))
				break
			}
		}
	}
	if int(n) == len(p.events) {
		// Maybe not every ready connection was listed: this check
		// vouches for none (the next one has room for them all).
		p.events = nil
		p.checkedAt = -p.checkValid
		return dead, false
	}
	return dead, true
}

// takeChecked takes the newest connection to addr (p.idle[addr] is not
// empty and fresh enough) that a check at most checkValid old covers,
// making a check when none does; checked false means no check covers
// the one it returns (the caller peeks it), and nil that the check found
// every one dead. The caller holds p.mu and closes dead after unlocking.
func (p *connPool) takeChecked(addr netip.AddrPort, dead *[]*backendConn) (bc *backendConn, checked bool) {
	if p.epfd <= 0 {
		return p.take(addr, len(p.idle[addr])-1), false
	}
	if time.Since(clockBase)-p.checkedAt < p.checkValid {
		s := p.idle[addr]
		for i := len(s) - 1; i >= 0; i-- {
			if c := s[i]; c.fd >= 0 && c.checkSeq < p.checkSeq {
				return p.take(addr, i), true
			}
		}
	}
	var ok bool
	*dead, ok = p.check(*dead)
	s := p.idle[addr]
	if len(s) == 0 {
		return nil, false
	}
	bc = p.take(addr, len(s)-1)
	return bc, ok && bc.fd >= 0
}

// take removes p.idle[addr][i] from the pool and returns it. The caller
// holds p.mu.
func (p *connPool) take(addr netip.AddrPort, i int) *backendConn {
	s := p.idle[addr]
	bc := s[i]
	s = append(s[:i], s[i+1:]...)
	s[:len(s)+1][len(s)] = nil
	p.idle[addr] = s // kept when empty: the next put reuses its array
	bc.idle = false
	return bc
}
