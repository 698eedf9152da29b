package l4

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/pacer"
	"github.com/hapair/hapair/proxy/rawio"
	"github.com/hapair/hapair/proxy/upstream"
)

// UDPConfig holds the per-service UDP settings; zero values mean defaults.
type UDPConfig struct {
	// IdleTimeout removes a flow after this long without a datagram either
	// way (default 60s; SIP over UDP refreshes registrations well within).
	IdleTimeout time.Duration
	// MaxFlows bounds the flow table (default DefaultMaxFlows). A new
	// client that finds it full evicts the longest-idle flows (the oldest
	// 1/64 of the table, at least one, like conntrack's early drop), so
	// new clients are always served. Each flow costs one socket (one file
	// descriptor) and, while idle, about 3.3 KiB of memory (a goroutine
	// blocked in the reader and the flow record); a reply being relayed
	// borrows a MaxDatagram buffer from a shared pool. Keep MaxFlows well
	// below the process's descriptor limit (LimitNOFILE).
	MaxFlows int
	// MaxDatagram is the largest datagram forwarded (default 9216 bytes:
	// a jumbo frame; RFC 3261 §18.1.1 moves SIP messages near the MTU to
	// TCP). Larger replies are dropped and counted, never truncated.
	MaxDatagram int
	// Clock ages flows (default clock.Real{}). NewUDP reads it once;
	// SetConfig ignores it. Ages are monotonic: a wall-clock step neither
	// expires every flow nor keeps them forever.
	Clock clock.Clock
}

// DefaultMaxFlows is UDPConfig.MaxFlows's default: 16384 flows, 16384
// descriptors, about 55 MiB while idle (3.3 KiB a flow, measured by
// TestUDPFlowMemory); a new client at a full 4096-flow table costs about
// 47 µs (BenchmarkUDPNewFlowFullTable, 2-core EPYC).
const DefaultMaxFlows = 16384

func (c UDPConfig) withDefaults() UDPConfig {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultUDPIdle
	}
	if c.MaxFlows <= 0 {
		c.MaxFlows = DefaultMaxFlows
	}
	if c.MaxDatagram <= 0 {
		c.MaxDatagram = 9216
	}
	return c
}

// UDPStats are cumulative counters plus the flows open now.
type UDPStats struct {
	Datagrams    uint64 `json:"datagrams"`  // client -> real, forwarded
	BytesIn      uint64 `json:"bytes_in"`   // client -> real, payload bytes forwarded
	BytesOut     uint64 `json:"bytes_out"`  // real -> client, payload bytes forwarded
	Replies      uint64 `json:"replies"`    // real -> client, forwarded
	Refused      uint64 `json:"refused"`    // arrived while inactive
	NoReal       uint64 `json:"no_real"`    // no real available for a new flow
	TableFull    uint64 `json:"table_full"` // new flow found MaxFlows reached
	Evicted      uint64 `json:"evicted"`    // longest-idle flows closed to make room
	Oversize     uint64 `json:"oversize"`   // datagram larger than MaxDatagram
	FlowsOpened  uint64 `json:"flows_opened"`
	FlowsExpired uint64 `json:"flows_expired"`
	Flows        int    `json:"flows"`
}

// UDPProxy forwards datagrams with one flow per client address: each flow
// has its own socket connected to the chosen real, so replies are read from
// that socket and sent back to that client only, and the kernel drops
// datagrams from anyone but the real. Safe for concurrent use.
type UDPProxy struct {
	proxyBase[UDPConfig]
	clock clock.Clock
	epoch time.Time // from clock, at NewUDP

	datagrams, replies, refused, noReal  atomic.Uint64
	bytesIn, bytesOut                    atomic.Uint64
	tableFull, oversize, opened, expired atomic.Uint64
	evicted                              atomic.Uint64

	pc atomic.Pointer[net.UDPConn]

	mu    sync.Mutex
	flows map[netip.AddrPort]*flow
	stop  chan struct{}
	pace  *pacer.Pacer
}

type flow struct {
	client netip.AddrPort
	up     upstream.Upstream
	conn   *net.UDPConn
	raw    *rawio.Conn  // conn's datagrams to the real, sent by Serve
	last   atomic.Int64 // coarse clock at the last datagram either way
	gone   atomic.Bool
}

// NewUDP returns a proxy that starts inactive (datagrams are dropped until
// SetActive(true)). A nil logger discards.
func NewUDP(p upstream.Picker, cfg UDPConfig, log *slog.Logger) *UDPProxy {
	u := &UDPProxy{flows: make(map[netip.AddrPort]*flow), stop: make(chan struct{})}
	u.clock = clock.Or(cfg.Clock)
	u.epoch = u.clock.Now()
	u.init(p, cfg, log)
	u.pace = pacer.New(u.log, "reading udp datagram failed, backing off", nil)
	return u
}

// SetConfig replaces the settings; the idle timeout applies to every flow
// at the next sweep.
func (u *UDPProxy) SetConfig(cfg UDPConfig) { u.setConfig(cfg) }

// Stats returns a copy of the counters.
func (u *UDPProxy) Stats() UDPStats {
	u.mu.Lock()
	n := len(u.flows)
	u.mu.Unlock()
	return UDPStats{
		Datagrams: u.datagrams.Load(), Replies: u.replies.Load(), Refused: u.refused.Load(),
		BytesIn: u.bytesIn.Load(), BytesOut: u.bytesOut.Load(),
		NoReal: u.noReal.Load(), TableFull: u.tableFull.Load(), Oversize: u.oversize.Load(),
		FlowsOpened: u.opened.Load(), FlowsExpired: u.expired.Load(), Flows: n, Evicted: u.evicted.Load(),
	}
}

// Serve reads client datagrams from pc until pc is closed, then closes all
// flows and returns nil.
func (u *UDPProxy) Serve(pc *net.UDPConn) error {
	u.pc.Store(pc)
	sweepDone := make(chan struct{})
	go u.sweeper(sweepDone)
	defer func() {
		close(u.stop)
		<-sweepDone
		u.closeAll()
	}()
	rc, err := pc.SyscallConn()
	if err != nil {
		return err
	}
	b := newRecvBatch(u.cfg.Load().MaxDatagram)
	var (
		n    int
		rerr error
	)
	read := func(fd uintptr) bool {
		n, rerr = b.read(fd)
		return rerr != unix.EAGAIN
	}
	for {
		err := rc.Read(read)
		if err == nil {
			err = rerr
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// ENOBUFS and the like: pause, and log once per 10s.
			u.pace.Wait(err, u.stop)
			continue
		}
		u.pace.OK()
		cfg := u.cfg.Load()
		for i := range n {
			u.forward(b, i, cfg)
		}
		if b.size != cfg.MaxDatagram+1 {
			b = newRecvBatch(cfg.MaxDatagram) // SetConfig changed it
		}
	}
}

// forward sends the i-th datagram of b to its client's flow.
func (u *UDPProxy) forward(b *recvBatch, i int, cfg *UDPConfig) {
	data, trunc, from := b.datagram(i)
	if !u.active.Load() {
		u.refused.Add(1)
		return
	}
	if trunc || len(data) > cfg.MaxDatagram {
		u.oversize.Add(1)
		return
	}
	f := u.flowFor(from, cfg)
	if f == nil {
		return
	}
	f.last.Store(u.elapsed())
	if err := f.raw.WriteMsg(data); err != nil {
		// ECONNREFUSED from an earlier ICMP port unreachable: the real
		// is gone; drop the flow so the next datagram picks again.
		u.closeFlow(f, false)
		return
	}
	u.datagrams.Add(1)
	u.bytesIn.Add(uint64(len(data)))
	if bc, ok := f.up.(upstream.ByteCounter); ok {
		bc.AddBytes(uint64(len(data)), 0)
	}
}

// flowFor returns the client's flow, making one when needed.
func (u *UDPProxy) flowFor(from netip.AddrPort, cfg *UDPConfig) *flow {
	u.mu.Lock()
	f := u.flows[from]
	full := f == nil && len(u.flows) >= cfg.MaxFlows
	u.mu.Unlock()
	if f != nil {
		return f
	}
	if full {
		u.tableFull.Add(1)
		u.evictOldest(cfg.MaxFlows)
	}
	up, ok := u.picker.Pick(from.Addr(), nil)
	if !ok {
		u.noReal.Add(1)
		return nil
	}
	var d net.Dialer
	conn, err := d.DialUDP(context.Background(), "udp", netip.AddrPort{}, up.Addr())
	if err != nil {
		u.noReal.Add(1)
		u.log.Warn("opening udp flow to real failed", "real", up.Addr().String(), "err", err)
		return nil
	}
	raw, err := rawio.New(conn)
	if err != nil {
		_ = conn.Close()
		u.noReal.Add(1)
		return nil
	}
	f = &flow{client: from, up: up, conn: conn, raw: raw}
	f.last.Store(u.elapsed())
	u.mu.Lock()
	u.flows[from] = f
	u.mu.Unlock()
	u.opened.Add(1)
	up.AddConns(0, 1)
	go u.replyLoop(f, cfg.MaxDatagram)
	return f
}

// evictOldest closes the longest-idle flows, the oldest maxFlows/64 (at least
// one), so that a table kept full by new clients costs one scan per batch
// rather than one per datagram.
func (u *UDPProxy) evictOldest(maxFlows int) {
	k := max(1, maxFlows/64)
	u.mu.Lock()
	victims := make([]*flow, 0, k+1)
	for _, f := range u.flows {
		victims = insertOldest(victims, f, k)
	}
	u.mu.Unlock()
	for _, f := range victims {
		if u.closeFlow(f, false) {
			u.evicted.Add(1)
		}
	}
}

// insertOldest keeps in vs, sorted oldest first, the k flows with the
// oldest last datagram seen so far.
func insertOldest(vs []*flow, f *flow, k int) []*flow {
	last := f.last.Load()
	if len(vs) == k && last >= vs[k-1].last.Load() {
		return vs
	}
	i := sort.Search(len(vs), func(i int) bool { return vs[i].last.Load() > last })
	vs = append(vs, nil)
	copy(vs[i+1:], vs[i:])
	vs[i] = f
	if len(vs) > k {
		vs = vs[:k]
	}
	return vs
}

// replyBufs are the buffers replies are read into. A flow borrows one only
// while a reply is waiting, so idle flows (nearly all of a full table) hold
// none.
var replyBufs sync.Pool

// replyLoop sends the real's datagrams back to the flow's client. It waits
// for readability through the runtime poller and reads with MSG_DONTWAIT
// into a pooled buffer; MSG_TRUNC reports a datagram's real length, so an
// oversized one is dropped and counted, never forwarded cut.
func (u *UDPProxy) replyLoop(f *flow, maxLen int) {
	in, err := f.conn.SyscallConn()
	if err != nil {
		u.closeFlow(f, false)
		return
	}
	var out syscall.RawConn // the service's socket, once Serve has it
	// The state of the reply in hand, for read and send (made once, so
	// that a reply allocates nothing).
	var (
		bp         *[]byte
		n          int
		rerr, werr error
	)
	read := func(fd uintptr) bool {
		bp = getReplyBuf(maxLen)
		n, rerr = rawio.Recv(fd, (*bp)[:maxLen], unix.MSG_TRUNC)
		if rerr == unix.EAGAIN {
			replyBufs.Put(bp) // nothing to read: wait without a buffer
			bp = nil
			return false
		}
		return true
	}
	send := func(fd uintptr) bool {
		werr = rawio.SendTo(fd, (*bp)[:n], f.client)
		return werr != unix.EAGAIN
	}
	for {
		err := in.Read(read)
		if err == nil {
			err = rerr
		}
		if err != nil {
			if bp != nil {
				replyBufs.Put(bp)
			}
			// ECONNREFUSED: the real sent ICMP port unreachable; closed:
			// the flow ended. Either way the flow is done.
			u.closeFlow(f, false)
			return
		}
		if n > maxLen {
			replyBufs.Put(bp)
			u.oversize.Add(1)
			continue
		}
		f.last.Store(u.elapsed())
		if out == nil {
			if pc := u.pc.Load(); pc != nil {
				out, _ = pc.SyscallConn()
			}
		}
		err = errNoSocket
		if out != nil {
			err = out.Write(send)
		}
		replyBufs.Put(bp)
		if err == nil && werr == nil {
			u.replies.Add(1)
			u.bytesOut.Add(uint64(n))
			if bc, ok := f.up.(upstream.ByteCounter); ok {
				bc.AddBytes(0, uint64(n))
			}
		}
	}
}

// errNoSocket: a reply came before Serve was given the service's socket.
var errNoSocket = errors.New("l4: udp service socket not served yet")

func getReplyBuf(n int) *[]byte {
	if v, ok := replyBufs.Get().(*[]byte); ok && cap(*v) >= n {
		return v
	}
	b := make([]byte, n)
	return &b
}

// closeFlow removes f and closes its socket; it reports whether this call
// did (false when f was already gone).
func (u *UDPProxy) closeFlow(f *flow, expired bool) bool {
	if f.gone.Swap(true) {
		return false
	}
	u.mu.Lock()
	if u.flows[f.client] == f {
		delete(u.flows, f.client)
	}
	u.mu.Unlock()
	_ = f.conn.Close()
	f.up.AddConns(0, -1)
	if expired {
		u.expired.Add(1)
	}
	return true
}

// elapsed is the monotonic time since NewUDP in ns: flows are stamped with
// it at every datagram (a vDSO clock read, small next to the syscall that
// moves the datagram), so eviction finds the truly longest-idle flows and
// a wall-clock step changes no flow's age.
func (u *UDPProxy) elapsed() int64 { return int64(u.clock.Since(u.epoch)) }

// sweeper expires idle flows, four times per idle timeout, so a flow is
// removed after between IdleTimeout and 1.25 × IdleTimeout without
// traffic: never early.
func (u *UDPProxy) sweeper(done chan struct{}) {
	defer close(done)
	for {
		cfg := u.cfg.Load()
		t := u.clock.NewTimer(max(cfg.IdleTimeout/4, 5*time.Millisecond))
		select {
		case <-u.stop:
			t.Stop()
			return
		case <-t.C():
		}
		u.sweep()
	}
}

func (u *UDPProxy) sweep() {
	limit := u.elapsed() - int64(u.cfg.Load().IdleTimeout)
	var old []*flow
	u.mu.Lock()
	for _, f := range u.flows {
		if f.last.Load() < limit {
			old = append(old, f)
		}
	}
	u.mu.Unlock()
	for _, f := range old {
		u.closeFlow(f, true)
	}
}

func (u *UDPProxy) closeAll() {
	u.mu.Lock()
	fs := make([]*flow, 0, len(u.flows))
	for _, f := range u.flows {
		fs = append(fs, f)
	}
	u.mu.Unlock()
	for _, f := range fs {
		u.closeFlow(f, false)
	}
}
