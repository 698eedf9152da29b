package l7

import (
	"bufio"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/testkit"
)

// lineEchoServer answers a connection's first line "stray" with one byte,
// unasked for by any request, and says nothing on the others.
func lineEchoServer(t *testing.T) netip.AddrPort {
	return rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if line == "stray\n" {
			_, _ = c.Write([]byte("x"))
		}
		_, _ = br.ReadByte() // until the pool closes it
	})
}

// dialSaying dials addr through p and sends line.
func dialSaying(t *testing.T, p *connPool, addr netip.AddrPort, line string) *backendConn {
	t.Helper()
	bc, err := p.dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.tc.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	return bc
}

// queued returns how many bytes wait in bc's socket (FIONREAD).
func queued(bc *backendConn) int {
	n := -1
	_ = bc.rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n
}

func newCheckPool(t *testing.T, valid time.Duration) *connPool {
	p := newConnPool(Config{ConnectTimeout: time.Second}.withDefaults(), clock.Real{})
	p.checkValid = valid
	t.Cleanup(func() { p.closeIdle(true) })
	return p
}

func TestIdleCheckDropsConnectionWithStrayBytes(t *testing.T) {
	addr := lineEchoServer(t)
	p := newCheckPool(t, time.Hour)
	quiet := dialSaying(t, p, addr, "quiet\n")
	stray := dialSaying(t, p, addr, "stray\n")
	testkit.WaitFor(t, "the stray byte to reach the connection", func() bool { return queued(stray) == 1 })
	p.put(quiet)
	p.put(stray) // the newest: taken first, were it good
	bc, checked := p.get(addr)
	if bc != quiet || !checked {
		t.Fatalf("get() = %p, checked %v; want the quiet connection %p, checked (the one holding a stray byte is %p)", bc, checked, quiet, stray)
	}
	if p.checkSeq != 1 {
		t.Errorf("checkSeq = %d after the first get, want 1 (one check)", p.checkSeq)
	}
	if n := p.idleCount(); n != 0 {
		t.Errorf("idleCount() = %d, want 0 (the stray connection dropped)", n)
	}
	if _, err := stray.tc.Write([]byte("y")); err == nil {
		t.Error("the connection holding a stray byte is still open, want it closed by the check")
	}
}

func TestIdleCheckServesSeveralTakes(t *testing.T) {
	addr := lineEchoServer(t)
	p := newCheckPool(t, time.Hour)
	a := dialSaying(t, p, addr, "quiet\n")
	b := dialSaying(t, p, addr, "quiet\n")
	p.put(a)
	p.put(b)
	if bc, checked := p.get(addr); bc != b || !checked {
		t.Fatalf("first get() = %p, checked %v; want the newest %p, checked", bc, checked, b)
	}
	// a went idle before that check, which is still valid: no new one.
	if bc, checked := p.get(addr); bc != a || !checked {
		t.Fatalf("second get() = %p, checked %v; want %p, checked", bc, checked, a)
	}
	if p.checkSeq != 1 {
		t.Errorf("checkSeq = %d after two gets, want 1 (the second one covered by the first's check)", p.checkSeq)
	}
	// Put back after that check: not covered by it.
	p.put(a)
	if bc, checked := p.get(addr); bc != a || !checked || p.checkSeq != 2 {
		t.Errorf("get() after a put = %p, checked %v, checkSeq %d; want %p, checked, 2 (a new check)", bc, checked, p.checkSeq, a)
	}
}

func TestIdleCheckExpires(t *testing.T) {
	addr := lineEchoServer(t)
	p := newCheckPool(t, 0) // a check vouches for nothing later
	a := dialSaying(t, p, addr, "quiet\n")
	b := dialSaying(t, p, addr, "quiet\n")
	p.put(a)
	p.put(b)
	p.get(addr)
	if _, checked := p.get(addr); !checked || p.checkSeq != 2 {
		t.Errorf("second get() checked %v, checkSeq %d; want checked by a new check (2): the first one expired", checked, p.checkSeq)
	}
}

func TestIdleCheckAfterCloseFallsBackToPeek(t *testing.T) {
	addr := lineEchoServer(t)
	p := newCheckPool(t, time.Hour)
	a := dialSaying(t, p, addr, "quiet\n")
	p.closeIdle(true) // closes the epoll instance; a is still busy
	if p.epfd != -1 {
		t.Fatalf("epfd = %d after the final closeIdle, want -1", p.epfd)
	}
	p.put(a) // refused by the closed pool: closed
	b := dialSaying(t, p, addr, "quiet\n")
	if b.fd != -1 {
		t.Errorf("a connection dialled by a closed pool has fd %d registered, want -1 (peeked instead)", b.fd)
	}
	b.close()
}
