package l4

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hapair/hapair/internal/pacer"
	"github.com/hapair/hapair/proxy/connlimit"
	"github.com/hapair/hapair/proxy/connset"
	"github.com/hapair/hapair/proxy/upstream"
)

// Defaults of TCPConfig and UDPConfig. DefaultConnectTimeout is HAProxy's
// usual "timeout connect 5s": long enough for two SYN retransmissions
// (sent after 1s and 3s), short enough that a client's retry is not
// already underway.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultAttempts       = 3
	DefaultUDPIdle        = 60 * time.Second // a SIP dialog refreshes well within it
)

// TCPConfig holds the per-service TCP settings. The zero value means the
// defaults below.
type TCPConfig struct {
	// ConnectTimeout bounds each connect to a real (default 5s).
	ConnectTimeout time.Duration
	// IdleTimeout closes a connection after this long without data in
	// either direction (default 0: never).
	IdleTimeout time.Duration
	// Attempts is how many distinct reals are tried when connecting fails
	// (default 3), like HAProxy's "retries" with "option redispatch".
	Attempts int
}

func (c TCPConfig) withDefaults() TCPConfig {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Attempts <= 0 {
		c.Attempts = DefaultAttempts
	}
	return c
}

// TCPStats are cumulative counters since the proxy was made, plus the
// connections open now.
type TCPStats struct {
	Accepted uint64 `json:"accepted"`
	// BytesIn (client to real) and BytesOut (real to client) count what
	// was relayed, each direction added when it ends (the event loop
	// counts per connection and reports at the end, so a message costs no
	// shared counter).
	BytesIn         uint64 `json:"bytes_in"`
	BytesOut        uint64 `json:"bytes_out"`
	Refused         uint64 `json:"refused"`          // arrived while inactive
	NoReal          uint64 `json:"no_real"`          // no real could be reached
	ConnectFailed   uint64 `json:"connect_failed"`   // per attempt
	ConnectTimeouts uint64 `json:"connect_timeouts"` // per attempt, part of ConnectFailed
	IdleClosed      uint64 `json:"idle_closed"`
	Open            int64  `json:"open"`
}

// TCPProxy forwards the connections accepted on a listener to reals chosen
// by a Picker. Its methods are safe for concurrent use.
type TCPProxy struct {
	proxyBase[TCPConfig]

	accepted, refused, noReal atomic.Uint64
	bytesIn, bytesOut         atomic.Uint64
	connFailed, connTimeouts  atomic.Uint64
	idleClosed                atomic.Uint64
	open                      atomic.Int64

	conns connset.Set[connKey]

	gate     *connlimit.Gate // nil: no limit; set before Serve
	gateDone <-chan struct{}
	pace     *pacer.Pacer
}

// NewTCP returns a proxy that starts inactive: it accepts and immediately
// resets connections until SetActive(true). A nil logger discards.
func NewTCP(p upstream.Picker, cfg TCPConfig, log *slog.Logger) *TCPProxy {
	t := &TCPProxy{}
	t.init(p, cfg, log)
	t.pace = pacer.New(t.log, "accept failed, backing off", nil)
	return t
}

// SetConfig replaces the timeouts for connections accepted from now on.
func (t *TCPProxy) SetConfig(cfg TCPConfig) { t.setConfig(cfg) }

// Stats returns a copy of the counters.
func (t *TCPProxy) Stats() TCPStats {
	return TCPStats{
		Accepted: t.accepted.Load(), Refused: t.refused.Load(), NoReal: t.noReal.Load(),
		ConnectFailed: t.connFailed.Load(), ConnectTimeouts: t.connTimeouts.Load(),
		IdleClosed: t.idleClosed.Load(), Open: t.open.Load(),
		BytesIn: t.bytesIn.Load(), BytesOut: t.bytesOut.Load(),
	}
}

// SetGate makes Serve take a slot of g (the service's and the balancer's
// maxconn) before each accept and give it back when the connection ends;
// while g is full, new connections wait in the listen backlog. done ends a
// wait (the service is being removed). Call it before Serve.
func (t *TCPProxy) SetGate(g *connlimit.Gate, done <-chan struct{}) {
	t.gate, t.gateDone = g, done
}

// errReset is what a connection reset by Close reports.
var errReset = errors.New("l4: proxy closed")

// Close resets every connection this proxy forwards. Listeners belong to
// the caller. Reload never calls it: it is for shutting the node down.
// Each is reset through the Ref its key carries, copied under the set's
// lock, never through its tcpConn (its loop's, and perhaps serving
// another connection by now).
func (t *TCPProxy) Close() {
	for _, k := range t.conns.Close() {
		k.reset()
	}
}

// countBytes adds n bytes relayed in one direction to the proxy's and the
// real's counters.
func (t *TCPProxy) countBytes(c *tcpConn, fromClient bool, n uint64) {
	bc, _ := c.up.(upstream.ByteCounter)
	if fromClient {
		t.bytesIn.Add(n)
		if bc != nil {
			bc.AddBytes(n, 0)
		}
		return
	}
	t.bytesOut.Add(n)
	if bc != nil {
		bc.AddBytes(0, n)
	}
}
