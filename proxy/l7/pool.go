package l7

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/proxy/l4"
	"github.com/hapair/hapair/proxy/rawio"
)

// maxResponseHeaderBytes bounds a real's response head (status line and
// headers, each 1xx included), so a broken real cannot make the proxy
// buffer without end. net/http's Transport allows 10 MB; HAProxy's whole
// default buffer is 16 KiB.
const maxResponseHeaderBytes = 1 << 20

var errHeaderTooBig = fmt.Errorf("response header larger than %d bytes", maxResponseHeaderBytes)

// backendConn is one persistent connection to a real. It is used by one
// request at a time; between requests it sits in its real's idle stack.
type backendConn struct {
	tc     *net.TCPConn
	rc     syscall.RawConn
	lr     budgetReader
	br     *bufio.Reader
	bw     *bufio.Writer
	addr   netip.AddrPort
	idleAt time.Time // when it was last put back
	reused bool      // it has carried a request before this one

	// The idle check's state (idlewatch.go), under pool.mu: fd is the
	// socket as registered in pool's epoll instance (-1: not registered,
	// peeked when taken), checkSeq the check generation when it was last
	// put back, idle whether it is in the pool now.
	pool     *connPool
	fd       int32
	checkSeq uint64
	idle     bool

	// alive's state, kept here so that the check allocates nothing.
	peek    func(fd uintptr) bool // bc.peekFD
	peekBuf [1]byte
	peekOK  bool
	wake    func() // bc.wakeUp, for context.AfterFunc
}

// budgetReader reads the connection with a byte budget (the header limit
// while a response head is parsed) and counts what arrived since reset, so
// a failure can tell "the real closed before answering" from "it answered
// badly".
type budgetReader struct {
	c    *rawio.Conn
	left int64
	got  int64
}

func (r *budgetReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errHeaderTooBig
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.c.Read(p)
	r.left -= int64(n)
	r.got += int64(n)
	return n, err
}

func (bc *backendConn) close() {
	if bc.pool != nil {
		bc.pool.unwatch(bc)
	}
	_ = bc.tc.Close()
}

// wakeUp sets a deadline in the past, which wakes whatever read or write
// is blocked on the connection at once.
func (bc *backendConn) wakeUp() { _ = bc.tc.SetDeadline(aLongTimeAgo) }

// alive reports whether an idle connection can carry a request: the real
// has neither closed it nor sent anything unasked. It reads without
// blocking, one cheap syscall (what net/http's Transport learns from its
// idle readLoop), so a POST is not written into a connection the real
// already closed and stray bytes are never taken for the next response.
// A byte it reads is lost, but a connection that had one is closed anyway.
func (bc *backendConn) alive() bool {
	bc.peekOK = false
	err := bc.rc.Read(bc.peek)
	return err == nil && bc.peekOK
}

// peekFD is alive's raw read, a method value made once per connection
// (bc.peek) so that the check allocates nothing per request.
func (bc *backendConn) peekFD(fd uintptr) bool {
	_, err := rawio.Recv(fd, bc.peekBuf[:], 0)
	bc.peekOK = err == unix.EAGAIN
	return true
}

// connPool keeps idle keep-alive connections per real, newest on top (a
// stack: the most recently used connection is the least likely to have
// been closed by the real, and the oldest ones age out at the bottom).
type connPool struct {
	dialer  net.Dialer
	max     int           // idle connections kept per real
	timeout time.Duration // idle connections older than this are closed
	clock   clock.Clock

	mu     sync.Mutex
	idle   map[netip.AddrPort][]*backendConn
	sweep  clock.Timer // armed while any connection is idle
	closed bool

	// The idle check (idlewatch.go): epfd is 0 until the first dial makes
	// it, -1 when it could not be made or the pool closed.
	epfd       int
	watched    map[int32]*backendConn // by socket, every connection registered in epfd
	checkSeq   uint64                 // check generation, raised by each check
	checkedAt  time.Duration          // when the last check was made, since clockBase
	checkValid time.Duration          // checkValid; tests lengthen it
	events     []unix.EpollEvent
}

func newConnPool(cfg Config, clk clock.Clock) *connPool {
	return &connPool{
		clock:      clk,
		dialer:     net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second},
		max:        cfg.MaxIdleConnsPerHost,
		timeout:    cfg.IdleTimeout,
		idle:       make(map[netip.AddrPort][]*backendConn),
		checkValid: checkValid,
	}
}

// get returns an idle connection to addr, or nil when there is none that
// is fresh enough; checked says that a recent check found it good (else
// the caller peeks it: alive).
func (p *connPool) get(addr netip.AddrPort) (bc *backendConn, checked bool) {
	now := p.clock.Now()
	var dead []*backendConn
	p.mu.Lock()
	s := p.idle[addr]
	if len(s) == 0 {
		p.mu.Unlock()
		return nil, false
	}
	if now.Sub(s[len(s)-1].idleAt) < p.timeout {
		bc, checked = p.takeChecked(addr, &dead)
		p.mu.Unlock()
		for _, c := range dead {
			c.close()
		}
		return bc, checked
	}
	// The newest is stale, so every one below it is too.
	stale := append([]*backendConn(nil), s...)
	clear(s)
	delete(p.idle, addr)
	for _, c := range stale {
		c.idle = false
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
	return nil, false
}

// conn returns a kept-alive connection to addr that is still good (see
// alive), or a new one. Its errors are *dialError: nothing was sent.
func (p *connPool) conn(ctx context.Context, addr netip.AddrPort) (*backendConn, error) {
	bc, checked := p.get(addr)
	// Check every reused connection, not only for requests that cannot be
	// replayed: bytes the real sent while the connection sat idle (a
	// second response to one request: a desync) must never be read as
	// the answer to the next client's request.
	if bc != nil && !checked && !bc.alive() {
		bc.close()
		bc = nil
	}
	if bc != nil {
		return bc, nil
	}
	return p.dial(ctx, addr)
}

// dial connects to addr. Its errors are *dialError: nothing was sent.
func (p *connPool) dial(ctx context.Context, addr netip.AddrPort) (*backendConn, error) {
	tc, err := l4.DialTCP(ctx, &p.dialer, addr)
	if err != nil {
		return nil, &dialError{err}
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		_ = tc.Close()
		return nil, &dialError{err}
	}
	raw, err := rawio.New(tc)
	if err != nil {
		_ = tc.Close()
		return nil, &dialError{err}
	}
	bc := &backendConn{tc: tc, rc: rc, addr: addr}
	bc.peek, bc.wake = bc.peekFD, bc.wakeUp
	p.mu.Lock()
	p.watchIdle(bc)
	p.mu.Unlock()
	bc.lr.c = raw
	bc.br = bufio.NewReaderSize(&bc.lr, 4096)
	bc.bw = bufio.NewWriterSize(raw, 4096)
	return bc, nil
}

// put returns a connection that finished a request cleanly (its response
// read to the end, nothing buffered beyond it) to the idle stack, or
// closes it when the stack is full or the pool closed.
func (p *connPool) put(bc *backendConn) {
	if bc.br.Buffered() > 0 { // the real sent more than one response
		bc.close()
		return
	}
	bc.reused = true
	bc.idleAt = p.clock.Now()
	p.mu.Lock()
	s := p.idle[bc.addr]
	if p.closed || len(s) >= p.max {
		p.mu.Unlock()
		bc.close()
		return
	}
	p.idle[bc.addr] = append(s, bc)
	bc.idle, bc.checkSeq = true, p.checkSeq
	if p.sweep == nil {
		p.sweep = p.clock.AfterFunc(p.timeout, p.expire)
	}
	p.mu.Unlock()
}

// expire closes the connections idle for longer than the timeout and
// re-arms itself for the oldest remaining one.
func (p *connPool) expire() {
	now := p.clock.Now()
	var stale []*backendConn
	var next time.Duration
	p.mu.Lock()
	for addr, s := range p.idle {
		i := 0
		for i < len(s) && now.Sub(s[i].idleAt) >= p.timeout {
			i++
		}
		stale = append(stale, s[:i]...)
		for _, c := range s[:i] {
			c.idle = false
		}
		if i == len(s) {
			delete(p.idle, addr)
			continue
		}
		if i > 0 {
			p.idle[addr] = append(s[:0:0], s[i:]...)
		}
		if left := p.timeout - now.Sub(s[i].idleAt); next == 0 || left < next {
			next = left
		}
	}
	if next > 0 && !p.closed {
		p.sweep.Reset(next)
	} else {
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
}

// closeIdle closes every idle connection; with final, connections still
// busy are closed when they come back instead of being kept.
func (p *connPool) closeIdle(final bool) {
	p.mu.Lock()
	var all []*backendConn
	for _, s := range p.idle {
		all = append(all, s...)
	}
	for _, c := range all {
		c.idle = false
	}
	clear(p.idle)
	if final {
		p.closed = true
		if p.epfd > 0 {
			_ = unix.Close(p.epfd)
		}
		p.epfd = -1
		if p.sweep != nil {
			p.sweep.Stop()
			p.sweep = nil
		}
	}
	p.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

// idleCount returns how many connections are idle (for tests).
func (p *connPool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.idle {
		n += len(s)
	}
	return n
}

// isClosedConn reports whether err says the real closed or reset the
// connection.
func isClosedConn(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}
