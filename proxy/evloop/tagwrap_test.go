package evloop

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
)

// TestTagWrap: registrations made as the loop's count of registrations
// wraps (its 29 bits, and the uint32 itself) are tagged with a Pad whose
// low bits still give the side, and their events are delivered: a Pair
// connects and relays, a Socket hears EPOLLIN.
func TestTagWrap(t *testing.T) {
	for _, start := range []uint32{1<<29 - 2, 1<<29 - 1, 1<<32 - 3, 1<<32 - 2, 1<<32 - 1, 1<<31 - 1} {
		l := pooledLoop(t)
		var pads []int32
		onLoop(t, l, func() {
			l.regs = start
			for range 3 {
				pads = append(pads, l.tag(0), l.tag(1), l.tag(sockSide))
			}
			l.regs = start
		})
		for i, p := range pads {
			if p < 0 || p&sideMask != int32(i%3) {
				t.Fatalf("start %d: tag %d is %#x (side %d), want side %d, not negative", start, i, p, p&sideMask, i%3)
			}
		}
		a, fa := rawPair(t)
		b, fb := rawPair(t)
		h := &counter{}
		var r Ref
		onLoop(t, l, func() { r = l.StartConnecting(a, b, h) })
		t.Cleanup(func() { r.Abort(errPoolTest) })
		heard := make(chan struct{}, 8)
		x, y := sockPair(t)
		var reg Reg
		onLoop(t, l, func() {
			var err error
			if reg, err = l.Register(x, sockFunc(func(uint32) { heard <- struct{}{} }), unix.EPOLLIN|unix.EPOLLET); err != nil {
				t.Error(err)
			}
		})
		t.Cleanup(func() { l.Post(func() { l.Unregister(reg) }) })
		unix.Write(y, []byte("s"))
		select {
		case <-heard:
		case <-time.After(5 * time.Second):
			t.Fatalf("start %d: the Socket heard nothing", start)
		}
		unix.Write(fa, []byte("ping"))
		expectRead(t, fb, "ping")
		unix.Write(fb, []byte("pong"))
		expectRead(t, fa, "pong")
	}
}

// expectRead waits (testkit.WaitFD) for the non-blocking fd to be
// readable and reads want from it.
func expectRead(t *testing.T, fd int, want string) {
	t.Helper()
	testkit.WaitFD(t, fd, unix.POLLIN, fmt.Sprintf("%q relayed", want))
	buf := make([]byte, 16)
	n, err := unix.Read(fd, buf)
	if err != nil || string(buf[:max(n, 0)]) != want {
		t.Fatalf("read %q, %v; want %q", buf[:max(n, 0)], err, want)
	}
}

// rawPair returns a Unix stream socket pair: near for a Pair to own, far
// closed at the end of the test.
func rawPair(t *testing.T) (near, far int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	return fds[0], fds[1]
}
