package l7

import (
	"net/netip"
	"sync"
)

// rawClient is a client connection of the fast path's accept (serveRaw)
// in one allocation: its socket and the gatedConn around it, reused once
// the connection is done. With a new connection per request they were
// the proxy's garbage (about 210 bytes a connection, 3-4 MB/s in the
// bench's HTTP close cell): a collection every 0.7 s, each with a stop of
// 0.4-0.9 ms and 3-5 ms of marking on the CPU the connections are served
// on, which landed in the bench's p99.
type rawClient struct {
	gc   gatedConn
	sock clientSock
}

var rawClients = sync.Pool{New: func() any { return new(rawClient) }}

// newRawClient returns the gatedConn of a client connection on fd, from
// remote, holding p's gate slot and counted in p's Stats.Open.
func (p *Proxy) newRawClient(fd int, remote netip.AddrPort) *gatedConn {
	rc := rawClients.Get().(*rawClient)
	rc.sock = clientSock{fd: fd, remote: remote}
	rc.gc = gatedConn{Conn: &rc.sock, gate: p.gate, open: &p.open, reuse: rc}
	return &rc.gc
}

// recycle takes back gc's memory once its connection is done, when
// nothing can use it any more: gc was closed, the call that closed its
// socket has returned (refDone), and the socket never entered Go's poller
// (whose file and timers could still refer to it). That is not enough by
// itself (a holder could still call acquire, which refuses only while the
// memory is not reused), so the caller must also be the connection's last
// holder: the serving goroutine once the connection left p.conns (whose
// Each, under its lock, is the only other way to it) and its watch was
// disarmed (which waits for the watch's goroutine). Anything else, a
// connection handed to net/http above all, is left to the garbage
// collector.
func recycle(gc *gatedConn) {
	rc := gc.reuse
	if rc == nil || rc.sock.ref.Load() != refDone || rc.sock.file != nil {
		return
	}
	rc.gc = gatedConn{}
	rc.sock = clientSock{}
	rawClients.Put(rc)
}
