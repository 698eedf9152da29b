package evloop

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// onLoop runs fn on l's goroutine and waits for it.
func onLoop(t *testing.T, l *Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	l.Post(func() { fn(); close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("posted function not run within 10s")
	}
}

// pickLoop returns a loop (Pick), failing the test when none can be had.
func pickLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := Pick()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sockPair returns a connected non-blocking Unix stream socket pair,
// closed at the end of the test.
func sockPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// sockFunc is a Socket from a function.
type sockFunc func(events uint32)

func (f sockFunc) Ready(events uint32) { f(events) }

// TestPostOrder: posts from one goroutine run on the loop, in order.
func TestPostOrder(t *testing.T) {
	l := pickLoop(t)
	got := make(chan int, 100)
	for i := range 100 {
		l.Post(func() { got <- i })
	}
	for i := range 100 {
		select {
		case v := <-got:
			if v != i {
				t.Fatalf("post %d ran as number %d", v, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("post %d not run within 10s", i)
		}
	}
}

// TestRegister: a registered socket hears EPOLLIN and reads through the
// loop's buffer, hears EPOLLOUT after Modify, and nothing after
// Unregister.
func TestRegister(t *testing.T) {
	l := pickLoop(t)
	var err error
	a, b := sockPair(t)
	type ev struct {
		events uint32
		data   string
	}
	got := make(chan ev, 10)
	var reg Reg
	s := sockFunc(func(events uint32) {
		e := ev{events: events}
		if events&unix.EPOLLIN != 0 {
			buf := l.Buffer()
			if n, err := unix.Read(a, buf); err == nil {
				e.data = string(buf[:n])
			}
		}
		got <- e
	})
	next := func() ev {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
			return ev{}
		}
	}
	onLoop(t, l, func() {
		if reg, err = l.Register(a, s, unix.EPOLLIN|unix.EPOLLET); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	unix.Write(b, []byte("hello"))
	if e := next(); e.events&unix.EPOLLIN == 0 || e.data != "hello" {
		t.Errorf("Ready(%#x) read %q, want EPOLLIN and hello", e.events, e.data)
	}
	onLoop(t, l, func() {
		if err := l.Modify(reg, unix.EPOLLOUT|unix.EPOLLET); err != nil {
			t.Error(err)
		}
	})
	if e := next(); e.events != unix.EPOLLOUT {
		t.Errorf("Ready(%#x) after Modify, want EPOLLOUT", e.events)
	}
	onLoop(t, l, func() {
		l.Modify(reg, unix.EPOLLIN|unix.EPOLLET)
		l.Unregister(reg)
	})
	unix.Write(b, []byte("more"))
	onLoop(t, l, func() {}) // a turn after the write's
	onLoop(t, l, func() {})
	select {
	case e := <-got:
		t.Errorf("Ready(%#x) after Unregister", e.events)
	default:
	}
	if err := l.Modify(reg, unix.EPOLLIN); err == nil {
		t.Error("Modify after Unregister succeeded; want ENOENT")
	}
}

// TestUnregisterInBatch: a socket unregistered by another's Ready in the
// same batch of events hears none of that batch.
func TestUnregisterInBatch(t *testing.T) {
	l := pickLoop(t)
	a1, b1 := sockPair(t)
	a2, b2 := sockPair(t)
	// Both readable before they are registered: the first epoll_wait
	// after the registrations returns both.
	unix.Write(b1, []byte("x"))
	unix.Write(b2, []byte("x"))
	var calls int
	var r1, r2, ran Reg
	onLoop(t, l, func() {
		var err1, err2 error
		r1, err1 = l.Register(a1, sockFunc(func(uint32) { calls++; ran = r1; l.Unregister(r2) }), unix.EPOLLIN|unix.EPOLLET)
		r2, err2 = l.Register(a2, sockFunc(func(uint32) { calls++; ran = r2; l.Unregister(r1) }), unix.EPOLLIN|unix.EPOLLET)
		if err1 != nil || err2 != nil {
			t.Error(err1, err2)
		}
	})
	var n int
	onLoop(t, l, func() {}) // runs after the turn that took both events
	onLoop(t, l, func() { n = calls })
	if n != 1 {
		t.Errorf("%d Ready calls, want 1: the other socket was unregistered in the batch", n)
	}
	onLoop(t, l, func() {
		// The one that ran is still registered, in its slot; the other's
		// slot is free.
		left := 0
		for _, s := range l.socks {
			if s != nil {
				left++
			}
		}
		if left != 1 {
			t.Errorf("%d slots hold a socket, want 1", left)
		}
		l.Unregister(ran)
	})
}

// TestRegisterKeepsLoop: a registered socket keeps the loop's goroutine,
// and the goroutine ends once it is unregistered.
func TestRegisterKeepsLoop(t *testing.T) {
	l := pickLoop(t)
	a, _ := sockPair(t)
	var reg Reg
	onLoop(t, l, func() { reg, _ = l.Register(a, sockFunc(func(uint32) {}), unix.EPOLLIN|unix.EPOLLET) })
	running := func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.running }
	if !running() {
		t.Fatal("loop goroutine ended with a socket registered")
	}
	onLoop(t, l, func() { l.Unregister(reg) })
	testkit.WaitFor(t, "the loop goroutine to end", func() bool { return !running() })
}

// TestEventDuringTurn: an event that arrives while the loop runs a turn
// (here caused by the turn itself, after its epoll_wait) is heard, though
// the loop parks in Go's poller after the batch without asking epoll
// again (busy): the new edge wakes it.
func TestEventDuringTurn(t *testing.T) {
	l := pickLoop(t)
	var err error
	a, b := sockPair(t)
	c, d := sockPair(t)
	heard := make(chan struct{})
	var regA, regC Reg
	first := sockFunc(func(events uint32) {
		if events&unix.EPOLLIN != 0 {
			unix.Write(d, []byte("x")) // c readable now, after this turn's epoll_wait
		}
	})
	second := sockFunc(func(events uint32) {
		if events&unix.EPOLLIN != 0 {
			close(heard)
			l.Unregister(regA)
			l.Unregister(regC)
		}
	})
	onLoop(t, l, func() {
		if regA, err = l.Register(a, first, unix.EPOLLIN|unix.EPOLLET); err != nil {
			return
		}
		regC, err = l.Register(c, second, unix.EPOLLIN|unix.EPOLLET)
	})
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(b, []byte("go"))
	select {
	case <-heard:
	case <-time.After(10 * time.Second):
		t.Fatal("EPOLLIN caused during a turn not heard within 10s")
	}
}

// TestStaleSocketEventDropped: a registered socket closed while a forked
// child still holds it (a dup here) and forgotten stays in the epoll set;
// its late events carry its registration's tag and do not reach the
// Socket registered next in its slot.
func TestStaleSocketEventDropped(t *testing.T) {
	l := pickLoop(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	old, far := fds[0], fds[1] // old is closed below, far at the end
	t.Cleanup(func() { unix.Close(far) })
	held, err := unix.Dup(old) // the child's copy
	if err != nil {
		unix.Close(old)
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(held) })
	var reg Reg
	onLoop(t, l, func() {
		if reg, err = l.Register(old, sockFunc(func(uint32) {}), unix.EPOLLIN|unix.EPOLLET); err != nil {
			t.Error(err)
		}
	})
	onLoop(t, l, func() { unix.Close(old); l.Forget(reg) })
	a, _ := sockPair(t)
	heard := 0
	var next Reg
	onLoop(t, l, func() {
		if next, err = l.Register(a, sockFunc(func(uint32) { heard++ }), unix.EPOLLIN|unix.EPOLLET); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { l.Post(func() { l.Unregister(next) }) })
	if next.slot != reg.slot {
		t.Fatalf("the next Socket has slot %d, the forgotten one had %d: nothing to test", next.slot, reg.slot)
	}
	unix.Write(far, []byte("x")) // EPOLLIN on the old socket
	onLoop(t, l, func() {})      // the turn that runs this post takes the event too, after it
	var n int
	onLoop(t, l, func() { n = heard })
	if n != 0 {
		t.Errorf("the next Socket in the slot heard %d events of the forgotten one, want 0", n)
	}
}

// TestStaleRegIgnored: a Reg whose registration ended (Unregister, or
// Forget) and whose slot serves another Socket by now reaches nothing:
// Unregister, Forget and Modify through it leave the new Socket
// registered and hearing its events. Without the Reg's tag, a second
// Unregister took the new Socket out of the loop (it heard nothing more,
// and, edge-triggered, would wait for ever), and Modify pointed the old
// Reg's descriptor at the new Socket's slot.
func TestStaleRegIgnored(t *testing.T) {
	ops := map[string]func(l *Loop, old Reg) error{
		"unregister": func(l *Loop, old Reg) error { return l.Unregister(old) },
		"forget":     func(l *Loop, old Reg) error { l.Forget(old); return nil },
		"zero":       func(l *Loop, _ Reg) error { return l.Unregister(Reg{}) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			l, err := Pick()
			if err != nil {
				t.Fatal(err)
			}
			a, _ := sockPair(t)
			b, far := sockPair(t)
			var old, cur Reg
			onLoop(t, l, func() {
				if old, err = l.Register(a, sockFunc(func(uint32) {}), unix.EPOLLIN|unix.EPOLLET); err != nil {
					t.Error(err)
				}
			})
			onLoop(t, l, func() { l.Unregister(old) }) // the slot is free after this turn
			heard := make(chan uint32, 8)
			onLoop(t, l, func() {
				if cur, err = l.Register(b, sockFunc(func(ev uint32) { heard <- ev }), unix.EPOLLIN|unix.EPOLLET); err != nil {
					t.Error(err)
				}
			})
			t.Cleanup(func() { l.Post(func() { l.Unregister(cur) }) })
			if cur.slot != old.slot {
				t.Fatalf("the new Socket has slot %d, the old one had %d: nothing to test", cur.slot, old.slot)
			}
			var opErr error
			onLoop(t, l, func() { opErr = op(l, old) })
			if opErr != nil {
				t.Errorf("%s through the stale Reg: %v", name, opErr)
			}
			unix.Write(far, []byte("x"))
			select {
			case <-heard:
			case <-time.After(3 * time.Second):
				t.Fatalf("after %s through the stale Reg, the Socket now in its slot heard nothing", name)
			}
		})
	}
}

// TestStaleRegModify: Modify through a Reg whose registration ended fails
// and leaves the Socket now in its slot alone, even when that Socket's
// descriptor has the old one's number (closed and reused). Without the
// Reg's tag, the Modify changed the new Socket's events (here to
// EPOLLOUT alone: it heard no EPOLLIN).
func TestStaleRegModify(t *testing.T) {
	l := pickLoop(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := fds[0]
	unix.Close(fds[1])
	var old, cur Reg
	onLoop(t, l, func() {
		if old, err = l.Register(a, sockFunc(func(uint32) {}), unix.EPOLLIN|unix.EPOLLET); err != nil {
			t.Error(err)
		}
	})
	onLoop(t, l, func() { l.Unregister(old); unix.Close(a) }) // the slot and the number are free
	heard := make(chan uint32, 8)
	var b, far int
	onLoop(t, l, func() {
		// On the loop goroutine, right after the close: the lowest free
		// number is a's again unless another goroutine took it meanwhile.
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		b, far = fds[0], fds[1]
		if cur, err = l.Register(b, sockFunc(func(ev uint32) { heard <- ev }), unix.EPOLLIN|unix.EPOLLET); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() {
		onLoop(t, l, func() { l.Unregister(cur) })
		unix.Close(b)
		unix.Close(far)
	})
	if cur.slot != old.slot || b != a {
		t.Skipf("the new Socket has slot %d and descriptor %d, the old one had %d and %d: nothing to test", cur.slot, b, old.slot, a)
	}
	onLoop(t, l, func() {
		if l.Modify(old, unix.EPOLLOUT|unix.EPOLLET) == nil {
			t.Error("Modify through a stale Reg succeeded")
		}
	})
	for len(heard) > 0 {
		<-heard // EPOLLOUT, if the Modify went through
	}
	unix.Write(far, []byte("x"))
	deadline := time.After(3 * time.Second)
	for {
		select {
		case ev := <-heard:
			if ev&unix.EPOLLIN != 0 {
				return
			}
		case <-deadline:
			t.Fatal("after a Modify through the stale Reg, the Socket now in its slot heard no EPOLLIN")
		}
	}
}
