package l4

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/evloop"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// echo sends msg through c (to proxytest.TCP's echoing real) and reads it
// back.
func echo(t *testing.T, c *net.TCPConn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("sending %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo of %q = %q, %v; want %q, nil", msg, got, err, msg)
	}
}

// keyOf returns the key tp's set holds for tcpConn c, if any.
func keyOf(tp *TCPProxy, c *tcpConn) (connKey, bool) {
	var k connKey
	found := false
	tp.conns.Each(func(e connKey) {
		if e.c == c {
			k, found = e, true
		}
	})
	return k, found
}

// TestStaleConnKeySpared: resetting a connection through the key of an
// earlier connection that the same tcpConn served (as Close does with
// the keys it took) leaves the connection it serves now alone.
func TestStaleConnKeySpared(t *testing.T) {
	real := proxytest.TCP(t, "a")
	tp, addr := startTCP(t, upstreamtest.NewPicker(real.Addr), TCPConfig{})
	first := proxytest.Dial(t, addr)
	echo(t, first, "one")
	var stale connKey
	tp.conns.Each(func(k connKey) { stale = k })
	first.Close()
	testkit.WaitFor(t, "the first connection out of the set", func() bool {
		_, in := keyOf(tp, stale.c)
		return !in
	})
	// The next connection its loop accepts reuses stale.c (its acceptor's
	// free list holds nothing else); which loop accepts is the kernel's
	// choice, so dial, keeping each open, until one does.
	var cur *net.TCPConn
	var k connKey
	for i := 0; i < 200 && k.c == nil; i++ {
		cur = proxytest.Dial(t, addr)
		echo(t, cur, "two")
		k, _ = keyOf(tp, stale.c)
	}
	if k.c == nil {
		t.Fatal("no connection reused the first one's tcpConn: nothing to test")
	}
	if k.gen == stale.gen {
		t.Fatalf("reused tcpConn kept generation %d", k.gen)
	}
	stale.reset() // runs on the loop before the echo's data (posts come first)
	echo(t, cur, "three")
	if _, in := keyOf(tp, stale.c); !in {
		t.Error("the reused connection left the set after a reset through a stale key")
	}
}

// TestFreeConnsBounded: a tcpConn that ends in a batch is not handed out
// again in it, and however many end in a batch, the free list keeps
// evloop.MaxFree.
func TestFreeConnsBounded(t *testing.T) {
	l, err := evloop.Pick()
	if err != nil {
		t.Fatal(err)
	}
	a := &loopAcceptor{s: &tcpServe{t: NewTCP(upstreamtest.NewPicker(), TCPConfig{}, nil)}, l: l}
	const n = evloop.MaxFree + 44
	onLoopDo := func(fn func()) {
		done := make(chan struct{})
		l.Post(func() { fn(); close(done) })
		select {
		case <-done:
		case <-time.After(testkit.WaitTimeout):
			t.Fatal("posted function not run")
		}
	}
	var first, again *tcpConn
	var free int
	onLoopDo(func() {
		first = a.conns.get(a)
		a.conns.put(first)
		again = a.conns.get(a)
		a.conns.put(again)
		for range n - 2 {
			a.conns.put(a.conns.get(a))
		}
	})
	onLoopDo(func() { free = a.conns.free.Len() })
	if again == first {
		t.Error("a tcpConn that ended in a batch was handed out again in the same batch")
	}
	if free != evloop.MaxFree {
		t.Errorf("free list holds %d tcpConns after %d ended, want %d", free, n, evloop.MaxFree)
	}
}
