package l7

import (
	"net"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
)

// rawClientPair returns a pooled client connection accepted from a
// loopback listener, and the client's end.
func rawClientPair(t *testing.T, p *Proxy) (*gatedConn, *net.TCPConn) {
	t.Helper()
	fd, from, c := acceptLoopback(t)
	p.open.Add(1)
	return p.newRawClient(fd, from), c
}

// recycle takes a connection's memory back only when nothing can use it
// any more: closed, with no call under way, never in Go's poller; a
// reused one would otherwise be a new client's socket under an old
// holder.
func TestRecycleOnlyWhenUnused(t *testing.T) {
	p := &Proxy{}
	t.Run("open", func(t *testing.T) {
		gc, _ := rawClientPair(t, p)
		t.Cleanup(func() { gc.Close() })
		recycle(gc)
		if gc.Conn == nil || gc.reuse == nil {
			t.Fatal("an open connection was recycled")
		}
	})
	t.Run("call under way", func(t *testing.T) {
		gc, _ := rawClientPair(t, p)
		s := gc.Conn.(*clientSock)
		if !s.acquire() {
			t.Fatal("acquire refused on an open socket")
		}
		gc.Close()
		recycle(gc)
		if gc.Conn == nil {
			t.Fatal("recycled while a call used the socket")
		}
		s.release() // the last user: closes the descriptor
		recycle(gc)
		if gc.Conn != nil {
			t.Fatal("not recycled once the last call closed the socket")
		}
	})
	t.Run("closing call not returned", func(t *testing.T) {
		gc, _ := rawClientPair(t, p)
		s := gc.Conn.(*clientSock)
		gc.Close()
		// The count as the last release leaves it before its close(2)
		// returns: closed, no holder, but that call still reads s.
		s.ref.Store(1)
		recycle(gc)
		if gc.Conn == nil {
			t.Fatal("recycled while the closing call could still use the socket")
		}
		s.ref.Store(refDone)
	})
	t.Run("in the poller", func(t *testing.T) {
		gc, _ := rawClientPair(t, p)
		s := gc.Conn.(*clientSock)
		if !s.acquire() {
			t.Fatal("acquire refused on an open socket")
		}
		if _, err := s.register(); err != nil {
			t.Fatal(err)
		}
		s.release()
		gc.Close()
		recycle(gc)
		if gc.Conn == nil {
			t.Fatal("recycled a socket that entered the poller")
		}
	})
	t.Run("not ours", func(t *testing.T) {
		ln, c := testkit.DialLoopback(t)
		t.Cleanup(func() { c.Close() })
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		gc := &gatedConn{Conn: sc, open: &p.open}
		p.open.Add(1)
		gc.Close()
		recycle(gc)
		if gc.Conn != sc {
			t.Fatal("a connection of net/http's kind was touched")
		}
	})
	t.Run("done", func(t *testing.T) {
		gc, _ := rawClientPair(t, p)
		before := p.open.Load()
		gc.Close()
		if p.open.Load() != before-1 {
			t.Fatalf("open = %d after close, want %d", p.open.Load(), before-1)
		}
		recycle(gc)
		if gc.Conn != nil || gc.reuse != nil {
			t.Fatal("a closed, unused connection was not recycled")
		}
	})
}
