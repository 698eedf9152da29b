package l7

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"time"

	"github.com/hapair/hapair/proxy/upstream"
)

// This file is the proxy's own HTTP/1.1 client side. net/http's Transport
// hands each request to two goroutines per backend connection (writeLoop
// and readLoop) and back, which cost more than half of HTTP mode's time in
// the bench. Here the handler's goroutine writes the request
// (Request.Write) and parses the response (http.ReadResponse) itself, on a
// pooled connection: the same strict net/http framing code, without the
// hand-offs.

// max1xx bounds the informational responses before the final one, as
// net/http's Transport does.
const max1xx = 5

// aLongTimeAgo is a deadline in the past: setting it wakes a blocked read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// replayable reports whether req may be sent again after a reused
// connection failed before any byte of a response came back: it has no
// body and is idempotent (RFC 9110 section 9.2.2), or says it may be
// retried, as net/http's Transport decides.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// send carries req to the real at up over a pooled connection, or a new
// one. A reused connection that the real had closed is retried once on a
// fresh connection when req is replayable. Errors from connecting are
// *dialError (nothing was sent; another real may be tried).
func (p *Proxy) send(req *http.Request, up upstream.Upstream, pool *connPool) (*http.Response, error) {
	addr := up.Addr()
	if req.Host == "" { // an HTTP/1.0 client sent none; name the real, as net/http's Transport would
		req.Host = addr.String()
	}
	canReplay := replayable(req)
	bc, err := pool.conn(req.Context(), addr)
	if err != nil {
		return nil, err
	}
	resp, err, stale := p.exchange(req, bc, pool, up)
	if err == nil || !stale || !canReplay || req.Context().Err() != nil {
		return resp, err
	}
	p.staleRetries.Add(1)
	if bc, err = pool.dial(req.Context(), addr); err != nil {
		return nil, err
	}
	resp, err, _ = p.exchange(req, bc, pool, up)
	return resp, err
}

// exchange writes req on bc and reads the response head. On success the
// response body owns bc: it goes back to the pool when the body has been
// read to its end and both sides allow keep-alive, and is closed in every
// other case. On failure bc is closed; stale reports that bc was reused
// and the real closed it before answering anything.
func (p *Proxy) exchange(req *http.Request, bc *backendConn, pool *connPool, up upstream.Upstream) (_ *http.Response, _ error, stale bool) {
	ctx := req.Context()
	// A client that goes away cancels ctx; the deadline wakes whatever
	// this request is blocked on, here or in the body.
	stop := context.AfterFunc(ctx, bc.wake)
	fail := func(err error, stale bool) (*http.Response, error, bool) {
		stop()
		bc.close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, err, stale
	}
	bc.lr.left, bc.lr.got = maxResponseHeaderBytes, 0
	err := req.Write(bc.bw)
	if err == nil {
		err = bc.bw.Flush()
	}
	if err != nil {
		return fail(fmt.Errorf("writing request to real %s: %w", bc.addr, err), bc.reused && isClosedConn(err))
	}
	var resp *http.Response
	for n := 0; ; n++ {
		resp, err = http.ReadResponse(bc.br, req)
		if err != nil {
			stale := bc.reused && bc.lr.got == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isClosedConn(err))
			return fail(fmt.Errorf("reading response from real %s: %w", bc.addr, err), stale)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		if n == max1xx {
			return fail(fmt.Errorf("reading response from real %s: more than %d 1xx responses", bc.addr, max1xx), false)
		}
		bc.lr.left = maxResponseHeaderBytes
		if tr := httptrace.ContextClientTrace(ctx); tr != nil && tr.Got1xxResponse != nil {
			if err := tr.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err, false)
			}
		}
	}
	if resp.StatusCode < 100 {
		// RFC 9110 section 15: a status code is 100 to 599. net/http's
		// WriteHeader panics below 100; HAProxy answers 502 as here.
		return fail(fmt.Errorf("reading response from real %s: status %03d is not an HTTP status code", bc.addr, resp.StatusCode), false)
	}
	bc.lr.left = math.MaxInt64
	rb := &respBody{body: resp.Body, bc: bc, pool: pool, stop: stop, up: up, inFlight: &p.inFlight, bytesOut: &p.bytesOut,
		keep: !resp.Close && !req.Close && resp.ProtoAtLeast(1, 1)}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// ReverseProxy uses the body as the upgraded connection.
		rb.keep = false
		rb.body = io.NopCloser(bc.br)
		resp.Body = upgradeBody{rb}
		return resp, nil, false
	}
	if resp.Body == http.NoBody {
		rb.finish(true)
	}
	resp.Body = rb
	return resp, nil, false
}

// respBody is a real's response body; it decides the connection's fate
// once: back to the pool after a clean end, closed otherwise (a body not
// read to its end leaves the connection mid-response). Until then the
// request counts as active on its real.
type respBody struct {
	body     io.ReadCloser
	bc       *backendConn
	pool     *connPool
	stop     func() bool
	up       upstream.Upstream
	inFlight *atomic.Int64
	bytesOut *atomic.Uint64
	keep     bool
	done     atomic.Bool
}

func (b *respBody) Read(p []byte) (int, error) {
	// After a clean end the connection may already carry another request,
	// but net/http's body remembers its EOF and reads nothing more.
	n, err := b.body.Read(p)
	if n > 0 {
		b.bytesOut.Add(uint64(n))
		if bc, ok := b.up.(upstream.ByteCounter); ok {
			bc.AddBytes(0, uint64(n))
		}
	}
	if err == io.EOF {
		b.finish(true)
	}
	return n, err
}

// Close never drains: net/http's body Close would read the rest of the
// response, which may never end; closing the connection is what HAProxy
// and the Transport do with a body nobody wants.
func (b *respBody) Close() error {
	b.finish(false)
	return nil
}

func (b *respBody) finish(eof bool) {
	if b.done.Swap(true) {
		return
	}
	b.up.AddConns(-1, 0)
	b.inFlight.Add(-1)
	// stop is false when the request was cancelled: the deadline may be
	// set, so the connection cannot be reused.
	if b.stop() && eof && b.keep {
		b.pool.put(b.bc)
		return
	}
	b.bc.close()
}

// upgradeBody is the body of a 101 Switching Protocols response: the
// connection itself, readable (what the real sent after the head is in
// the bufio.Reader) and writable.
type upgradeBody struct{ *respBody }

func (u upgradeBody) Write(p []byte) (int, error) { return u.bc.tc.Write(p) }
