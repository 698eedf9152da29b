package l7

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hapair/hapair/proxy/rawio"
)

// This file is the client side of the fast path: one goroutine per client
// connection reads request heads from a pooled bufio.Reader and forwards
// them (forward.go), with no background reader (net/http's server keeps
// one per connection) and no per-request allocation of a Request or a
// Header. A head outside the fast subset (head.go) hands the connection to
// net/http's server for the rest of its life.

// clientBufSize is the client reader's buffer: a head must fit in it to
// take the fast path (net/http's server, which takes the larger ones,
// allows 1 MiB; HAProxy's whole default buffer is 16 KiB).
const clientBufSize = 8 << 10

// States of a client connection, for closing the idle ones (a drain, a
// shutdown) without racing a request that has begun.
const (
	stateNew    int32 = iota // no request yet
	stateActive              // a request is being read or served
	stateIdle                // between requests (keep-alive)
	stateClosed              // closed by the proxy while idle
)

type clientConn struct {
	p        *Proxy
	c        *gatedConn
	br       *bufio.Reader
	bw       *bufio.Writer
	client   netip.Addr
	clientIP []byte // client's address as X-Forwarded-For text
	state    atomic.Int32
	h        reqHead
	resp     respHead
	out      []byte    // the request head sent to the real, kept for a resend
	deadline time.Time // the read deadline last set by setReadDeadline (zero: unknown)
	w        watcher
	raw      *rawio.Conn // br and bw read and write c's socket through it; handed off with br
}

var clientConns = sync.Pool{New: func() any {
	cc := &clientConn{
		br: bufio.NewReaderSize(nil, clientBufSize),
		bw: bufio.NewWriterSize(nil, 4<<10),
	}
	cc.w.init(cc)
	return cc
}}

func (p *Proxy) newClientConn(c *gatedConn) *clientConn {
	cc := clientConns.Get().(*clientConn)
	cc.open(p, c)
	return cc
}

// open readies a pooled cc for c, forgetting what its last connection
// left: its watcher's verdict that that client went away, above all,
// which serveRequest reads before a request's wait is armed (a body
// timeout or a failed write to the real would then close this client's
// connection without its 408 or 502).
func (cc *clientConn) open(p *Proxy, c *gatedConn) {
	cc.p, cc.c = p, c
	cc.w.gone.Store(false)
	if cc.br == nil { // handed off last time, with its reader
		cc.br = bufio.NewReaderSize(nil, clientBufSize)
	}
	if cc.raw == nil {
		cc.raw = new(rawio.Conn)
	}
	var rw io.ReadWriter = c
	var ap netip.AddrPort
	switch s := c.Conn.(type) {
	case *clientSock:
		rw, ap = s, s.remote
	case *net.TCPConn:
		if cc.raw.Reset(s) == nil {
			rw = cc.raw
		}
	}
	cc.br.Reset(rw)
	cc.bw.Reset(rw)
	cc.state.Store(stateNew)
	cc.deadline = time.Time{}
	if !ap.IsValid() {
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ap = ta.AddrPort()
		} else {
			ap, _ = netip.ParseAddrPort(c.RemoteAddr().String())
		}
	}
	cc.client = ap.Addr().Unmap()
	cc.clientIP = cc.client.AppendTo(cc.clientIP[:0])
}

func (cc *clientConn) release() {
	cc.p, cc.c = nil, nil
	if cc.raw != nil {
		_ = cc.raw.Reset(nil)
	}
	if cc.br != nil {
		cc.br.Reset(nil)
	}
	cc.bw.Reset(nil)
	clear(cc.h.fields[:cap(cc.h.fields)])
	clear(cc.h.xff[:cap(cc.h.xff)])
	clear(cc.resp.fields[:cap(cc.resp.fields)])
	clear(cc.resp.opts[:cap(cc.resp.opts)])
	cc.h, cc.resp = reqHead{fields: cc.h.fields[:0], xff: cc.h.xff[:0]}, respHead{fields: cc.resp.fields[:0], opts: cc.resp.opts[:0]}
	clientConns.Put(cc)
}

// serveConn serves one client connection until it closes, or hands it to
// net/http's server.
func (p *Proxy) serveConn(c *gatedConn) { p.serveClient(p.newClientConn(c)) }

// serveClient serves cc, readied for its connection (open).
func (p *Proxy) serveClient(cc *clientConn) {
	c := cc.c
	if !p.conns.Add(cc) {
		_ = c.Close()
		cc.release()
		recycle(c)
		return
	}
	handedOff := false
	defer func() {
		p.conns.Remove(cc)
		if handedOff {
			cc.release()
			return
		}
		_ = c.Close()
		cc.release()
		recycle(c)
	}()
	for first := true; ; first = false {
		if !cc.awaitRequest(first) {
			return
		}
		head, err := peekHead(cc.br)
		if err != nil {
			return // a timeout, a reset, or EOF mid-head: closed, as net/http does
		}
		if head == nil || !parseRequest(head, &cc.h) {
			handedOff = true
			p.handOff(cc)
			return
		}
		if !p.serveRequest(cc, len(head)) {
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request (up to the
// idle timeout after a first one), then gives the head the request
// timeout (HAProxy's "timeout http-keep-alive" and "timeout
// http-request"). It reports false when the connection is done.
func (cc *clientConn) awaitRequest(first bool) bool {
	p := cc.p
	if !first && cc.br.Buffered() == 0 {
		cc.state.Store(stateIdle)
		// A drain or shutdown that began while this request was served
		// may have missed this connection (not idle yet): check after
		// saying so, as closeIdle says so before it looks.
		if p.quiesce.Load() || p.shutting.Load() {
			return false
		}
		cc.idleDeadline()
		// The answers of this burst go out first (body.go yields before
		// each flush); by the time this read runs the client has often
		// sent its next request, where reading at once found nothing and
		// parked (one empty recv per request; about 1 in 4 now).
		runtime.Gosched()
		if _, err := cc.br.Peek(1); err != nil {
			return false
		}
		if !cc.state.CompareAndSwap(stateIdle, stateActive) {
			return false // closed as idle just as the request came
		}
		if b, _ := cc.br.Peek(cc.br.Buffered()); new(headScan).end(b) > 0 {
			return true // the whole head came at once: no wait to bound
		}
	}
	cc.setReadDeadline(time.Now().Add(p.clientTimeouts.RequestTimeout))
	if first {
		if _, err := cc.br.Peek(1); err != nil {
			return false
		}
		cc.state.CompareAndSwap(stateNew, stateActive)
	}
	return true
}

// setReadDeadline sets the client connection's read deadline and
// remembers it, for idleDeadline. Only the serving goroutine calls it.
func (cc *clientConn) setReadDeadline(t time.Time) {
	cc.deadline = t
	_ = cc.c.SetReadDeadline(t)
}

// idleDeadline bounds the wait for the next request by the idle timeout.
// The deadline it sets is idleSlack later than the timeout, and kept while
// it still falls within [now+timeout, now+timeout+idleSlack]: a busy
// connection then re-arms the runtime's deadline timer once per idleSlack
// rather than once per request, and an idle connection is closed no
// earlier than the timeout and at most a sixteenth of it later.
func (cc *clientConn) idleDeadline() {
	idle := cc.p.clientTimeouts.IdleTimeout
	want := time.Now().Add(idle)
	if d := cc.deadline.Sub(want); d >= 0 && d <= idleSlack(idle) {
		return
	}
	cc.setReadDeadline(want.Add(idleSlack(idle)))
}

func idleSlack(idle time.Duration) time.Duration { return idle / 16 }

// lingerTime is how long a connection closed with part of its request
// unread waits for the client to stop sending: net/http's server waits
// 500 ms for the same reason.
const lingerTime = 500 * time.Millisecond

// lingerClose half-closes a connection whose request body was not read
// and discards what the client still sends, for up to lingerTime, so the
// answer just written is not lost to the reset that closing with unread
// bytes causes.
func (cc *clientConn) lingerClose() {
	_ = cc.c.CloseWrite()
	cc.setReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.Copy(io.Discard, cc.br)
}

// closeIdle closes the fast path's idle keep-alive connections; with all,
// every connection (Close).
func (p *Proxy) closeIdle(all bool) {
	p.conns.Each(func(cc *clientConn) {
		if all || cc.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = cc.c.Close()
		}
	})
}

// lastWrite marks the client writer's next flush as the last answer
// before the connection closes (clientSock.lastWrite), a clean close when
// the client asked for it, sent no body and nothing more is buffered.
func (cc *clientConn) lastWrite() {
	if s, ok := cc.c.Conn.(*clientSock); ok {
		s.lastWrite(!cc.h.keepOpen() && cc.h.length == 0 && cc.br.Buffered() == 0)
	}
}

// handOff gives the connection, with what is buffered of it, to net/http's
// server. A clientSock becomes a *net.TCPConn on a duplicate of its socket
// first (net/http wants a net.Conn that the net package made: for
// Hijack, for example), which takes over the gate slot and the count in
// Stats.Open.
func (p *Proxy) handOff(cc *clientConn) {
	gc := cc.c
	if s, ok := gc.Conn.(*clientSock); ok {
		nc, err := s.netConn()
		if err != nil {
			_ = gc.Close()
			return
		}
		moved := false
		gc.once.Do(func() { moved = true }) // gc's slot and count are nc's now
		_ = s.Close()
		if !moved { // closed meanwhile (Close): the slot is already back
			_ = nc.Close()
			return
		}
		gc = &gatedConn{Conn: nc, gate: gc.gate, open: gc.open}
	}
	bc := &bufferedConn{gatedConn: gc, r: cc.br}
	cc.br = nil // it now belongs to bc
	p.slowOnce.Do(func() { go func() { _ = p.srv.Serve(p.slowLn) }() })
	p.handOffs.Add(1)
	p.slowLn.hand(bc)
}

// bufferedConn is a client connection whose first bytes sit in r, which
// is read until empty, then the connection itself.
type bufferedConn struct {
	*gatedConn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(b)
	}
	return c.gatedConn.Read(b)
}

// chanListener is the slow path's listener: it accepts the connections
// the fast path hands off.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{addr: &net.TCPAddr{}, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) hand(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
