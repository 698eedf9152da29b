package l7

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/pacer"
	"github.com/hapair/hapair/proxy/accept"
	"github.com/hapair/hapair/proxy/connlimit"
	"github.com/hapair/hapair/proxy/connset"
	"github.com/hapair/hapair/proxy/evloop"
	"github.com/hapair/hapair/proxy/l4"
	"github.com/hapair/hapair/proxy/upstream"
)

// DefaultIdleTimeout closes keep-alive connections unused this long, on
// both sides: HAProxy's usual "timeout http-keep-alive" order of magnitude,
// and longer than a browser keeps an idle connection.
const DefaultIdleTimeout = 60 * time.Second

// Config holds the HTTP mode settings; zero values mean the defaults.
type Config struct {
	// Service names the virtual service in error bodies.
	Service string
	// ConnectTimeout bounds each connect to a real (default 5s).
	ConnectTimeout time.Duration
	// IdleTimeout closes keep-alive connections, client side and real side,
	// after this long unused (default 60s).
	IdleTimeout time.Duration
	// Attempts is how many distinct reals a request may try when connecting
	// fails (default 3).
	Attempts int
	// MaxIdleConnsPerHost is the keep-alive pool size per real (default
	// 512; net/http's default of 2 would open a new connection for almost
	// every request under load).
	MaxIdleConnsPerHost int
	// RequestTimeout bounds the wait for a complete request head once its
	// first byte may arrive (HAProxy's "timeout http-request"; default
	// DefaultRequestTimeout). Fixed at New, like IdleTimeout.
	RequestTimeout time.Duration
	// BodyTimeout bounds the wait for the whole request body once the head
	// is in (default DefaultBodyTimeout), so a client trickling a POST
	// (slowloris, R.U.D.Y.) cannot hold a client and a real connection
	// as long as it likes; it gets 408.
	BodyTimeout time.Duration
	// Clock ages idle real-side connections and paces accept-error
	// back-off (default clock.Real{}). Fixed at New; SetConfig ignores it.
	// Socket deadlines stay on the real clock: the kernel keeps them.
	Clock clock.Clock
}

const (
	// DefaultRequestTimeout is the "timeout http-request 10s" of HAProxy's
	// documentation and most of its sample configurations.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultBodyTimeout is the "timeout client 30s" of HAProxy's sample
	// configurations, applied to the request body as a whole.
	DefaultBodyTimeout = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = l4.DefaultConnectTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Attempts <= 0 {
		c.Attempts = l4.DefaultAttempts
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = 512
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	return c
}

// Stats are cumulative counters.
type Stats struct {
	Requests uint64 `json:"requests"`
	Refused  uint64 `json:"refused"` // connections arriving while inactive
	Retries  uint64 `json:"retries"` // connect failures retried on another real
	// StaleRetries counts requests sent again on a fresh connection because
	// the real had closed the kept-alive one before answering.
	StaleRetries uint64 `json:"stale_retries"`
	NoReal       uint64 `json:"no_real"`     // answered 503
	BadGateway   uint64 `json:"bad_gateway"` // answered 502
	// BodyTimeouts counts requests whose body did not arrive within
	// BodyTimeout (answered 408).
	BodyTimeouts uint64 `json:"body_timeouts"`
	InFlight     int64  `json:"in_flight"`
	// Open is the client connections open now, idle keep-alive ones and
	// upgraded ones (WebSocket) included.
	Open int64 `json:"open"`
	// BytesIn and BytesOut count request bodies sent to reals and
	// response bodies read from them (headers not included).
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

// Proxy is an HTTP reverse proxy for one virtual service. Safe for
// concurrent use.
type Proxy struct {
	picker upstream.Picker
	log    *slog.Logger
	clock  clock.Clock
	cfg    atomic.Pointer[Config]
	active atomic.Bool
	pool   atomic.Pointer[connPool]
	rp     *httputil.ReverseProxy
	srv    *http.Server

	requests, refused, retries, noReal, badGW atomic.Uint64
	bytesIn, bytesOut                         atomic.Uint64
	staleRetries, bodyTimeouts                atomic.Uint64
	pace                                      *pacer.Pacer
	gate                                      *connlimit.Gate // nil: no limit; set before Serve
	gateDone                                  <-chan struct{}
	inFlight                                  atomic.Int64
	open                                      atomic.Int64

	// The fast path's client connections (conn.go) and listeners.
	clientTimeouts Config // RequestTimeout and IdleTimeout, fixed at New
	quiesce        atomic.Bool
	shutting       atomic.Bool
	conns          connset.Set[*clientConn]
	lns            connset.Set[net.Listener]
	acceptors      connset.Set[*accept.Acceptor]
	// The slow path: srv serves the connections handed to slowLn.
	slowLn   *chanListener
	slowOnce sync.Once
	handOffs atomic.Uint64
	// Workers serve client connections one after another (workers.go).
	handoff     chan *gatedConn
	stopWorkers chan struct{}
	stopOnce    sync.Once
	idleWorkers atomic.Int32
}

// errNoReal ends a request with 503.
var errNoReal = errors.New("no real server available")

// New returns a proxy that starts inactive. A nil logger discards.
func New(p upstream.Picker, cfg Config, logger *slog.Logger) *Proxy {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	clk := clock.Or(cfg.Clock)
	px := &Proxy{picker: p, log: logger, clock: clk, pace: pacer.New(logger, "accept failed, backing off", clk),
		clientTimeouts: cfg, slowLn: newChanListener(), handoff: make(chan *gatedConn), stopWorkers: make(chan struct{})}
	px.cfg.Store(&cfg)
	px.pool.Store(newConnPool(cfg, clk))
	px.rp = &httputil.ReverseProxy{
		Rewrite:      px.rewrite,
		Transport:    roundTripper{px},
		ErrorHandler: px.errorHandler,
		ErrorLog:     log.New(io.Discard, "", 0),
		// Without a pool ReverseProxy allocates a 32 KiB copy buffer per
		// response, which made GC the largest cost in the bench.
		BufferPool: bufferPool{},
	}
	px.srv = &http.Server{
		Handler:           px,
		ReadHeaderTimeout: cfg.RequestTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	return px
}

// SetQuiesce turns a drain on or off. While on, new connections are still
// served (the address may still route here), but keep-alive ends: every
// response carries "Connection: close" and idle keep-alive connections are
// closed, so clients reconnect, to the peer once the address has moved.
// This is HAProxy's soft-stop behaviour for a front end.
func (p *Proxy) SetQuiesce(on bool) {
	p.quiesce.Store(on)
	p.srv.SetKeepAlivesEnabled(!on)
	if on {
		p.closeIdle(false)
	}
}

// SetConfig applies new settings to requests from now on: a fresh pool to
// the reals replaces the old one, whose idle connections are closed (busy
// ones finish their request). The client-side idle timeout stays as it was
// at New.
func (p *Proxy) SetConfig(cfg Config) {
	cfg = cfg.withDefaults()
	p.cfg.Store(&cfg)
	old := p.pool.Swap(newConnPool(cfg, p.clock))
	old.closeIdle(true)
}

// SetActive turns accepting new connections on or off; established
// keep-alive connections carry on.
func (p *Proxy) SetActive(on bool) { p.active.Store(on) }

// Active reports whether new connections are accepted.
func (p *Proxy) Active() bool { return p.active.Load() }

// Stats returns a copy of the counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Requests: p.requests.Load(), Refused: p.refused.Load(), Retries: p.retries.Load(), StaleRetries: p.staleRetries.Load(),
		NoReal: p.noReal.Load(), BadGateway: p.badGW.Load(), InFlight: p.inFlight.Load(), Open: p.open.Load(),
		BytesIn: p.bytesIn.Load(), BytesOut: p.bytesOut.Load(),
		BodyTimeouts: p.bodyTimeouts.Load(),
	}
}

// SetGate makes Serve take a slot of g (the service's and the balancer's
// maxconn) before each accept and give it back when the client connection
// closes; while g is full, new connections wait in the listen backlog.
// done ends a wait (the service is being removed). Call it before Serve.
func (p *Proxy) SetGate(g *connlimit.Gate, done <-chan struct{}) {
	p.gate, p.gateDone = g, done
}

// Serve answers HTTP on ln until ln is closed (or Close or Shutdown
// closes it), then returns nil. Each connection gets a goroutine of its
// own on the fast path (conn.go) while it is open: one that served an
// earlier connection when one waits (workers.go).
func (p *Proxy) Serve(ln net.Listener) error {
	if !p.lns.Add(ln) {
		return nil
	}
	defer p.lns.Remove(ln)
	deferAccept(ln)
	if tl, ok := ln.(*net.TCPListener); ok {
		if acc, err := accept.New(tl); err == nil {
			return p.serveRaw(acc)
		}
	}
	gl := gateListener{ln, p}
	for {
		c, err := gl.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.shutting.Load() {
				return nil
			}
			return err
		}
		p.dispatch(c.(*gatedConn))
	}
}

// acceptRun bounds the connections serveRaw accepts in a row before it
// lets the others run.
const acceptRun = 16

// serveRaw is Serve for a TCP listener: its connections are taken with
// accept4(2) and served as clientSocks, outside the net package (sock.go).
// Admission is gateListener's.
func (p *Proxy) serveRaw(acc *accept.Acceptor) error {
	// A waiting Accept ends when the listener closes, but notices that
	// only within a while (package accept): closing the proxy's listeners
	// or the gate's done channel (the service's end) ends it at once.
	defer acc.Close()
	if !p.acceptors.Add(acc) {
		return nil // closed meanwhile
	}
	defer p.acceptors.Remove(acc)
	if p.gateDone != nil {
		acc.CloseWithListener() // the service closes its gate's done channel with the listener
		served := make(chan struct{})
		defer close(served)
		go func() {
			select {
			case <-p.gateDone:
				_ = acc.Close()
			case <-served:
			}
		}()
	}
	run := 0
	for {
		if !p.gate.Acquire(p.gateDone) {
			return nil
		}
		if run++; run > acceptRun {
			// A burst of new clients waits behind the connections being
			// served, as an event loop bounds its accepts per turn
			// (HAProxy's tune.maxaccept).
			run = 0
			runtime.Gosched()
		}
		fd, from, err := acc.TryAccept()
		if err == unix.EAGAIN {
			run = 0
			// Let the connections being served run first, which often
			// takes long enough for the next one to come, rather than
			// park and be woken for it.
			runtime.Gosched()
			fd, from, err = acc.Accept()
		}
		if err != nil {
			p.gate.Release()
			if errors.Is(err, net.ErrClosed) || p.shutting.Load() {
				return nil
			}
			p.pace.Wait(err, nil) // EMFILE and the like: see gateListener
			continue
		}
		p.pace.OK()
		if !p.active.Load() {
			p.gate.Release()
			p.refused.Add(1)
			evloop.CloseReset(fd)
			continue
		}
		p.open.Add(1)
		p.dispatch(p.newRawClient(fd, from))
	}
}

// deferAccept sets TCP_DEFER_ACCEPT (tcp(7)) on a TCP listener: the
// kernel hands over a connection once its first bytes (the request) are
// in, so the first read finds them instead of waiting, and no ACK is sent
// for the handshake's last segment alone. HTTP clients speak first;
// HAProxy does the same in HTTP mode ("option tcp-smart-accept", on by
// default there). A client that connects and stays silent is accepted
// anyway after about a second. Best effort: without it a connection is
// only accepted sooner.
func deferAccept(ln net.Listener) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return
	}
	if rc, err := tl.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 1)
		})
	}
}

// closeListeners stops Serve, new connections and further hand-offs.
func (p *Proxy) closeListeners() {
	p.shutting.Store(true)
	p.stopIdleWorkers()
	for _, ln := range p.lns.Close() {
		_ = ln.Close()
	}
	for _, acc := range p.acceptors.Close() {
		_ = acc.Close()
	}
	p.conns.Close()
}

// Close stops serving, closes every client connection and the idle pool.
// It is for shutting the node down; a reload never calls it.
func (p *Proxy) Close() {
	p.closeListeners()
	p.closeIdle(true)
	_ = p.slowLn.Close()
	_ = p.srv.Close()
	p.pool.Load().closeIdle(true)
}

// Shutdown stops accepting, lets requests in flight finish (until ctx
// ends), and closes idle connections: what a reload does to a replaced
// service. A connection that has not sent its first request yet gets up
// to RequestTimeout for it.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.closeListeners()
	gone := p.conns.Empty()
	p.closeIdle(false)
	_ = p.slowLn.Close()
	err := p.srv.Shutdown(ctx)
	select {
	case <-gone:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	p.pool.Load().closeIdle(true)
	return err
}

// ServeHTTP proxies one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	st := &reqState{}
	r = r.WithContext(context.WithValue(r.Context(), reqStateKey{}, st))
	// A request ends when its handler returns, however it returns: the
	// response body counts it in flight and active on its real, and
	// ReverseProxy leaves it unclosed when it refuses a 101 (a protocol the
	// client did not ask for) or when a panic unwinds it. Closing it here
	// is a no-op after a clean end (finish runs once).
	defer st.release()
	if r.Body != nil && r.Body != http.NoBody {
		// The head is in; the body gets BodyTimeout as a whole. The server
		// sets the next request's deadlines itself.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(p.cfg.Load().BodyTimeout))
		st.body = &timedBody{ReadCloser: r.Body}
		r.Body = st.body
	}
	p.rp.ServeHTTP(w, r)
}

// reqState is what ServeHTTP shares with RoundTrip and errorHandler about
// one request, through its context (ReverseProxy passes on a clone).
type reqState struct {
	// body is the client's request body; nil without one. A read error
	// cancels the request's context, so errorHandler cannot tell a timeout
	// from a client that left but by it.
	body *timedBody
	// resp is the body of the real's response RoundTrip returned, set and
	// released on the handler's goroutine.
	resp io.Closer
}

type reqStateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(reqStateKey{}).(*reqState)
	return st
}

func (st *reqState) release() {
	if st.resp != nil {
		_ = st.resp.Close()
	}
}

// timedBody notes that reading the client's body hit the read deadline.
type timedBody struct {
	io.ReadCloser
	timedOut atomic.Bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.timedOut.Store(true)
	}
	return n, err
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	// Rewrite starts from a copy without X-Forwarded-*; keep the client's
	// X-Forwarded-For chain and append, as HAProxy and nginx do. This is
	// ProxyRequest.SetXForwarded with the three values in one allocation
	// (its Header.Set calls were a tenth of HTTP mode's allocations).
	vals := make([]string, 3)
	if host, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
			host = strings.Join(prior, ", ") + ", " + host
		}
		vals[0] = host
		pr.Out.Header["X-Forwarded-For"] = vals[0:1:1]
	}
	vals[1] = pr.In.Host
	pr.Out.Header["X-Forwarded-Host"] = vals[1:2:2]
	vals[2] = "http"
	if pr.In.TLS != nil {
		vals[2] = "https"
	}
	pr.Out.Header["X-Forwarded-Proto"] = vals[2:3:3]
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = "real.invalid" // never dialled: send connects to the picked real
	pr.Out.Host = pr.In.Host         // the real sees the Host the client asked for
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNoReal) {
		p.noReal.Add(1)
		http.Error(w, fmt.Sprintf("hapair: service %q: no real server available", p.cfg.Load().Service), http.StatusServiceUnavailable)
		return
	}
	if st := stateOf(r.Context()); st != nil && st.body != nil && st.body.timedOut.Load() {
		p.bodyTimeouts.Add(1)
		p.log.Info("request body timeout", "service", p.cfg.Load().Service, "client", r.RemoteAddr, "err", err)
		w.Header().Set("Connection", "close")
		http.Error(w, fmt.Sprintf("hapair: service %q: request body not received within %v", p.cfg.Load().Service, p.cfg.Load().BodyTimeout), http.StatusRequestTimeout)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	p.badGW.Add(1)
	p.log.Warn("proxying request failed", "service", p.cfg.Load().Service, "client", r.RemoteAddr, "err", err)
	http.Error(w, fmt.Sprintf("hapair: service %q: real server failed: %v", p.cfg.Load().Service, err), http.StatusBadGateway)
}

// dialError marks a failure to connect: nothing of the request was sent,
// so trying another real is safe even for POST.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

type roundTripper struct{ p *Proxy }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	p := rt.p
	var client netip.Addr
	if ap, err := netip.ParseAddrPort(req.RemoteAddr); err == nil {
		client = ap.Addr().Unmap()
	}
	body := req.Body
	var counted *countedBody
	if body != nil && body != http.NoBody {
		// The transport closes the body on any error; keep it open across
		// attempts (a failed dial has not read it) and close it once.
		counted = &countedBody{r: body, total: &p.bytesIn}
		req.Body = noClose{counted}
		defer body.Close()
	}
	cfg, pool := p.cfg.Load(), p.pool.Load()
	var resp *http.Response
	err := p.attempt(client, cfg, func(up upstream.Upstream) error {
		if counted != nil {
			counted.up, _ = up.(upstream.ByteCounter) // set before the transport reads
		}
		var err error
		resp, err = p.send(req, up, pool)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The body uncounts the request when it ends, at the latest when the
	// handler returns.
	if st := stateOf(req.Context()); st != nil {
		st.resp = resp.Body
	}
	return resp, nil
}

// countedBody counts a request body as the transport reads it, for the
// proxy and the real it goes to.
type countedBody struct {
	r     io.Reader
	total *atomic.Uint64
	up    upstream.ByteCounter // nil when the real does not count
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.total.Add(uint64(n))
		if b.up != nil {
			b.up.AddBytes(uint64(n), 0)
		}
	}
	return n, err
}

type noClose struct{ io.Reader }

func (noClose) Close() error { return nil }

// gateListener resets connections while the proxy is inactive.
type gateListener struct {
	net.Listener
	p *Proxy
}

func (g gateListener) Accept() (net.Conn, error) {
	for {
		if !g.p.gate.Acquire(g.p.gateDone) {
			return nil, net.ErrClosed
		}
		c, err := g.Listener.Accept()
		if err != nil {
			g.p.gate.Release()
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			// Out of descriptors (EMFILE) and the like: pause and log
			// rate-limited here, since net/http's own backoff logs every
			// retry (to a discarded log).
			g.p.pace.Wait(err, nil)
			continue
		}
		g.p.pace.OK()
		if g.p.active.Load() {
			g.p.open.Add(1)
			return &gatedConn{Conn: c, gate: g.p.gate, open: &g.p.open}, nil
		}
		g.p.gate.Release()
		g.p.refused.Add(1)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// gatedConn gives its gate slot (if any) back once, when net/http closes
// it, and counts itself in Stats.Open while open: net/http closes every
// connection it served, also the idle ones a drain ends.
type gatedConn struct {
	net.Conn
	gate  *connlimit.Gate
	open  *atomic.Int64
	once  sync.Once
	reuse *rawClient // the allocation gc is part of, for recycle; nil if none
}

// CloseWrite half-closes the TCP connection: net/http does it before
// closing a connection whose request body it did not read (a 408, a 413),
// so the response is not lost to the reset the unread bytes cause.
func (c *gatedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *gatedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.open.Add(-1)
		c.gate.Release() // nil-safe
	})
	return err
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// bufferPool implements httputil.BufferPool over a sync.Pool.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *copyBufs.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBufs.Put(&b) }
