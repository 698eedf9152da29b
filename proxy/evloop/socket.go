package evloop

import (
	"os"

	"golang.org/x/sys/unix"
)

// Socket is a descriptor served by a loop beside its Pairs (a listener,
// an HTTP connection): Ready gets each epoll event for it, on the loop
// goroutine. Like a Handler's methods, Ready must not block: it serves
// one socket among the loop's many.
type Socket interface {
	// Ready reports the epoll(7) events (unix.EPOLLIN and the like) that
	// epoll_wait returned for the descriptor.
	Ready(events uint32)
}

// Reg is a descriptor's registration with a loop, for Modify and
// Unregister. It carries its registration's tag (Loop.tag), so that a Reg
// whose registration ended, and whose slot serves another Socket by now,
// reaches nothing: Modify, Unregister and Forget ignore it.
type Reg struct {
	fd   int
	slot int32
	pad  int32
}

// current reports whether r is its slot's registration now.
func (l *Loop) current(r Reg) bool {
	return int(r.slot) < len(l.socks) && l.socks[r.slot] != nil && l.sockPad[r.slot] == r.pad
}

// sockSide marks a Socket's epoll event (a Pair's carry side 0 or 1), in
// the bits sideMask of its Pad; the rest is the registration's tag.
const (
	sockSide = 2
	sideMask = 3
)

// tag returns the epoll event Pad for a new registration of side (0 or
// 1 of a Pair, or sockSide): side in its low bits, a count of l's
// registrations above them. An event carries the Pad its descriptor was
// registered with, and the loop drops one whose Pad is not its slot's
// current one. A close(2) takes a socket out of the epoll set only with
// its last descriptor, and a child forked before its exec (an external
// check, a notify script) holds one more: the closed socket's late events
// would otherwise reach the slot's next owner, a stale EPOLLOUT taken for
// a connect that completed, a stale EPOLLHUP for one that failed. HAProxy
// guards the same way by checking a connect again (connect(2) answering
// EALREADY); a tag costs no system call. The count wraps after 2^29
// registrations: 45 minutes at 100,000 new connections a second on one
// loop (two registrations each), against the microseconds a forked child
// holds a socket before its exec.
func (l *Loop) tag(side int32) int32 {
	l.regs++
	return int32(l.regs&(1<<29-1))<<2 | side
}

// Pick returns a loop, the next in turn (as New picks for a Pair),
// creating the loops, one per CPU (loopCount), on first use. Its error is
// epoll_create1's or eventfd's.
func Pick() (*Loop, error) { return pick() }

// Loops returns every loop (creating them on first use, as Pick does),
// for a caller that serves something on each, such as one listener per
// loop with SO_REUSEPORT.
func Loops() ([]*Loop, error) {
	if _, err := pick(); err != nil {
		return nil, err
	}
	return loops, nil
}

// Post runs fn on l's goroutine, after what was posted before it, waking
// the loop or starting its goroutine. Safe from any goroutine. fn must not
// block, and is where Register, Modify, Unregister, After and Buffer may
// be called from (besides Ready and timer functions).
func (l *Loop) Post(fn func()) { l.post(post{kind: postCall, call: fn}) }

// Register adds fd to l's epoll set for events (epoll_ctl(2)
// EPOLL_CTL_ADD with, say, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLET) and
// has s hear them. While registered, fd keeps the loop's goroutine running.
// fd stays the caller's: call Unregister before closing it. Loop goroutine
// only. The error is epoll_ctl's.
func (l *Loop) Register(fd int, s Socket, events uint32) (Reg, error) {
	var slot int32
	if k := len(l.sockFree); k > 0 {
		slot = l.sockFree[k-1]
		l.sockFree = l.sockFree[:k-1]
	} else {
		slot = int32(len(l.socks))
		l.socks = append(l.socks, nil)
	}
	for int(slot) >= len(l.sockPad) {
		l.sockPad = append(l.sockPad, 0)
	}
	l.sockPad[slot] = l.tag(sockSide)
	ev := unix.EpollEvent{Events: events, Fd: slot, Pad: l.sockPad[slot]}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.sockFree = append(l.sockFree, slot)
		return Reg{}, os.NewSyscallError("epoll_ctl", err)
	}
	l.socks[slot] = s
	l.live++
	l.setLevel(slot, events)
	return Reg{fd: fd, slot: slot, pad: l.sockPad[slot]}, nil
}

// Modify changes the events r's descriptor is registered for
// (EPOLL_CTL_MOD; with EPOLLET, a state already reached is reported
// again). Loop goroutine only. The error is epoll_ctl's, or ENOENT for a
// registration that ended (its descriptor may be another's by now, which
// EPOLL_CTL_MOD would point at this slot).
func (l *Loop) Modify(r Reg, events uint32) error {
	if !l.current(r) {
		return os.NewSyscallError("epoll_ctl", unix.ENOENT)
	}
	ev := unix.EpollEvent{Events: events, Fd: r.slot, Pad: l.sockPad[r.slot]}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, r.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	l.setLevel(r.slot, events)
	return nil
}

// setLevel records whether the Socket in slot is registered
// level-triggered (events without EPOLLET, or 0 once unregistered): while
// any is, a turn never parks without asking epoll again (busy), since
// epoll keeps such a descriptor ready with no new edge for Go's poller.
func (l *Loop) setLevel(slot int32, events uint32) {
	for int(slot) >= len(l.sockLevel) {
		l.sockLevel = append(l.sockLevel, false)
	}
	lv := events != 0 && events&unix.EPOLLET == 0
	if lv != l.sockLevel[slot] {
		l.sockLevel[slot] = lv
		if lv {
			l.level++
		} else {
			l.level--
		}
	}
}

// Unregister takes r's descriptor out of l's epoll set (EPOLL_CTL_DEL):
// its Socket hears nothing more, not even events already taken in this
// turn. Call it before the descriptor is closed; a Reg whose
// registration ended already is ignored. Loop goroutine only. The error
// is epoll_ctl's; the registration ends either way.
func (l *Loop) Unregister(r Reg) error {
	if !l.current(r) {
		return nil
	}
	l.socks[r.slot] = nil
	l.setLevel(r.slot, 0)
	// The slot is reused after this turn, so that an event of this batch
	// for it finds nil, not a new Socket.
	l.sockFreed = append(l.sockFreed, r.slot)
	l.live--
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, r.fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Buffer returns l's spare read buffer (16 KiB, HAProxy's tune.bufsize),
// for a read whose bytes are used or copied before the caller returns to
// the loop: it is the buffer the loop's next read goes to. Loop goroutine
// only; never kept, never handed to another goroutine.
func (l *Loop) Buffer() []byte { return *l.spare }

// Forget ends r's registration without epoll_ctl, for a descriptor that
// was closed while registered (by another owner, such as a net.Listener's
// Close): its last close took it out of the epoll set, and its number may
// belong to another socket by now, which EPOLL_CTL_DEL would take out
// instead. Loop goroutine only.
func (l *Loop) Forget(r Reg) {
	if !l.current(r) {
		return
	}
	l.socks[r.slot] = nil
	l.setLevel(r.slot, 0)
	l.sockFreed = append(l.sockFreed, r.slot)
	l.live--
}
