package l7

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/hapair/hapair/proxy/upstream"
)

// This file forwards one request of the fast subset: pick a real (another
// one when connecting fails), send the head and the Content-Length body,
// relay the response. The same promises as the slow path's ServeHTTP and
// RoundTrip, with the same counters and error bodies.

// exchange is one request's state while it is forwarded.
type exchange struct {
	p    *Proxy
	cc   *clientConn
	h    *reqHead
	up   upstream.Upstream
	bc   *backendConn
	pool *connPool
	cfg  *Config
	// bodyLeft is what the client still has to send of the request body:
	// the client connection can carry another request only at zero.
	bodyLeft int64
	ended    bool
	began    time.Duration // when the head was read, on watcher's clockBase
}

// serveRequest forwards the request whose head (headLen bytes) is parsed
// in cc.h and still buffered in cc.br, and answers the client. It reports
// whether the client connection may carry another request.
func (p *Proxy) serveRequest(cc *clientConn, headLen int) bool {
	p.requests.Add(1)
	x := exchange{p: p, cc: cc, h: &cc.h, cfg: p.cfg.Load(), pool: p.pool.Load(), bodyLeft: cc.h.length,
		began: time.Since(clockBase)}
	err := x.connect()
	if err == nil {
		cc.out = appendRequestHead(cc.out[:0], x.h, cc.clientIP, x.bc.addr)
	}
	_, _ = cc.br.Discard(headLen) // the head's fields point into it until here
	if err != nil {
		p.noReal.Add(1)
		return x.answerError(http.StatusServiceUnavailable, fmt.Sprintf("hapair: service %q: no real server available", x.cfg.Service))
	}
	keep, err := x.forward()
	x.end(err == nil)
	gone := cc.w.gone.Load()
	switch {
	case err == nil:
		return keep && !gone
	case gone:
		return false // the client went away
	case errors.Is(err, errBodyTimeout):
		p.bodyTimeouts.Add(1)
		p.log.Info("request body timeout", "service", x.cfg.Service, "client", cc.client.String(), "err", err)
		x.bodyLeft = -1 // unknown: the connection closes
		return x.answerError(http.StatusRequestTimeout,
			fmt.Sprintf("hapair: service %q: request body not received within %v", x.cfg.Service, x.cfg.BodyTimeout))
	case errors.Is(err, errClient):
		return false
	case errors.Is(err, errAnswered):
		return false // the head went out: only closing tells the client
	}
	p.badGW.Add(1)
	p.log.Warn("proxying request failed", "service", x.cfg.Service, "client", cc.client.String(), "err", err)
	return x.answerError(http.StatusBadGateway, fmt.Sprintf("hapair: service %q: real server failed: %v", x.cfg.Service, err))
}

func (x *exchange) resp() *respHead { return &x.cc.resp }

// attempt picks reals for client and calls try with each until try does
// not fail to connect (a *dialError), on at most cfg.Attempts distinct
// reals: nothing was sent on a failed connect, so another real is safe
// even for a POST. From the pick the request counts in flight and active
// on its real; a failed try undoes that. With no real left it returns
// errNoReal, wrapping the last connect error when there was one; other
// errors of try end it at once.
func (p *Proxy) attempt(client netip.Addr, cfg *Config, try func(upstream.Upstream) error) error {
	// nil until a connect fails: a buffer on the stack would escape through
	// the Picker interface and cost an allocation on every request.
	var tried []netip.AddrPort
	var lastErr error
	for range cfg.Attempts {
		up, ok := p.picker.Pick(client, tried)
		if !ok {
			break
		}
		up.AddConns(1, 0)
		p.inFlight.Add(1)
		err := try(up)
		if err == nil {
			return nil
		}
		up.AddConns(-1, 0)
		p.inFlight.Add(-1)
		var de *dialError
		if !errors.As(err, &de) {
			return err
		}
		p.retries.Add(1)
		p.log.Warn("connecting to real failed, trying another", "service", cfg.Service, "real", up.Addr().String(), "err", err)
		tried = append(tried, up.Addr())
		lastErr = err
	}
	if lastErr != nil {
		return fmt.Errorf("%w: %d real(s) failed to connect, last: %w", errNoReal, len(tried), lastErr)
	}
	return errNoReal
}

// connect picks a real and connects to it (a kept-alive connection or a
// new one); the request counts on it until end.
func (x *exchange) connect() error {
	return x.p.attempt(x.cc.client, x.cfg, func(up upstream.Upstream) error {
		bc, err := x.pool.conn(context.Background(), up.Addr())
		if err == nil {
			x.up, x.bc = up, bc
		}
		return err
	})
}

// end ends the request once the real's answer has been read (ok) or has
// failed: the watch stops, the request no longer counts, and the real's
// connection goes back to the pool when it is clean, or is closed. It
// runs before the last flush to the client, so a client that has its
// answer never sees the request still counted.
func (x *exchange) end(ok bool) {
	if x.ended {
		return
	}
	x.ended = true
	x.cc.w.disarm()
	reuse := ok && !x.cc.w.gone.Load() && !x.resp().close
	x.up.AddConns(-1, 0)
	x.p.inFlight.Add(-1)
	switch {
	case x.bc == nil:
	case reuse:
		x.pool.put(x.bc)
	default:
		x.bc.close()
	}
}

var (
	// errBodyTimeout: the request body did not come within BodyTimeout.
	errBodyTimeout = errors.New("request body timeout")
	// errClient: reading from or writing to the client failed.
	errClient = errors.New("client connection failed")
	// errAnswered: the real failed after the response head reached the
	// client.
	errAnswered = errors.New("real failed mid-response")
)

// forward sends the request on x.bc and relays the answer. A kept-alive
// connection the real had closed before answering is replaced once by a
// new one when the request is replayable, as the slow path does.
func (x *exchange) forward() (keep bool, err error) {
	err, stale := x.send()
	if stale && x.h.replayable() {
		x.p.staleRetries.Add(1)
		x.bc.close()
		if x.bc, err = x.pool.dial(context.Background(), x.up.Addr()); err != nil {
			return false, err // x.bc is nil: nothing to close or pool
		}
		err, _ = x.send()
	}
	if err != nil {
		return false, err
	}
	return x.relay()
}

// send writes the head and body and reads the answer's head into
// cc.resp, relaying 1xx answers. stale says that the connection was
// reused and the real closed it before answering anything.
func (x *exchange) send() (err error, stale bool) {
	bc := x.bc
	bc.lr.left, bc.lr.got = maxResponseHeaderBytes, 0
	if _, err = bc.bw.Write(x.cc.out); err == nil && x.bodyLeft > 0 {
		err = x.sendBody()
	}
	if err == nil {
		err = bc.bw.Flush()
	}
	if err != nil {
		if errors.Is(err, errBodyTimeout) || errors.Is(err, errClient) {
			return err, false
		}
		return fmt.Errorf("writing request to real %s: %w", bc.addr, err), bc.reused && isClosedConn(err)
	}
	x.cc.w.arm(bc)
	for n := 0; ; n++ {
		head, inBuf, err := bc.readResponseHead()
		if err == nil {
			err = parseResponse(head, x.resp())
		}
		if err != nil {
			stale := bc.reused && bc.lr.got == 0 && (errors.Is(err, io.EOF) || isClosedConn(err))
			if stale {
				x.cc.w.disarm()
			}
			return fmt.Errorf("reading response from real %s: %w", bc.addr, err), stale
		}
		rh := x.resp()
		if rh.code >= 200 {
			return x.sendHead(head, inBuf), false
		}
		if rh.code == http.StatusSwitchingProtocols {
			return fmt.Errorf("real %s switched protocols, which the request did not ask for", bc.addr), false
		}
		if n == max1xx {
			return fmt.Errorf("reading response from real %s: more than %d 1xx responses", bc.addr, max1xx), false
		}
		if !x.h.http10 { // RFC 9110 section 15.2: never to an HTTP/1.0 client
			b := appendStatusLine(x.cc.bw.AvailableBuffer(), false, rh.code, rh.reason)
			for _, f := range rh.fields {
				b = appendField(b, f.name, f.value)
			}
			b = append(b, "\r\n"...)
			if _, err := x.cc.bw.Write(b); err != nil || x.cc.bw.Flush() != nil {
				return errClient, false
			}
		}
		if inBuf {
			_, _ = bc.br.Discard(len(head))
		}
		bc.lr.left = maxResponseHeaderBytes
	}
}

// sendBody copies the Content-Length body from the client to the real,
// within BodyTimeout.
func (x *exchange) sendBody() error {
	cc, p := x.cc, x.p
	cc.setReadDeadline(time.Now().Add(x.cfg.BodyTimeout))
	bcount, _ := x.up.(upstream.ByteCounter)
	for x.bodyLeft > 0 {
		if cc.br.Buffered() == 0 {
			// About to wait for the client: the real gets what came.
			if err := x.bc.bw.Flush(); err != nil {
				return err
			}
		}
		b, err := cc.br.Peek(1)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("%w: %w", errBodyTimeout, err)
			}
			return fmt.Errorf("%w: reading the request body: %w", errClient, err)
		}
		b, _ = cc.br.Peek(min(cc.br.Buffered(), int(min(x.bodyLeft, math.MaxInt32))))
		if _, err := x.bc.bw.Write(b); err != nil {
			return err
		}
		_, _ = cc.br.Discard(len(b))
		x.bodyLeft -= int64(len(b))
		p.bytesIn.Add(uint64(len(b)))
		if bcount != nil {
			bcount.AddBytes(uint64(len(b)), 0)
		}
	}
	return nil
}

// sendHead writes the response head to the client (not flushed) and
// discards it from the real's reader.
func (x *exchange) sendHead(head []byte, inBuf bool) error {
	rh, cc := x.resp(), x.cc
	b := appendStatusLine(cc.bw.AvailableBuffer(), x.h.http10, rh.code, rh.reason)
	for _, f := range rh.fields {
		b = appendField(b, f.name, f.value)
	}
	switch mode := x.bodyMode(); {
	case mode == bodyNone:
		if rh.length >= 0 && rh.code != http.StatusNoContent {
			b = appendLength(b, rh.length) // HEAD and 304 say what GET would get
		}
	case mode == bodyLength:
		b = appendLength(b, rh.length)
	case mode == bodyChunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		if rh.trailer != nil {
			b = appendField(b, []byte("Trailer"), rh.trailer)
		}
	}
	if !x.keepClient() {
		b = append(b, "Connection: close\r\n"...)
	} else if x.h.http10 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	if inBuf {
		// b is in cc.bw's buffer, head in bc.br's: copied before discarded.
		_, _ = x.bc.br.Discard(len(head))
	}
	if _, err := cc.bw.Write(b); err != nil {
		return errClient
	}
	return nil
}

func appendLength(b []byte, n int64) []byte {
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, "\r\n"...)
}

// How the response body reaches the client.
const (
	bodyNone    = iota // HEAD, 204, 304 (RFC 9112 section 6.3)
	bodyLength         // Content-Length, as the real sent it
	bodyChunked        // re-chunked for an HTTP/1.1 client
	bodyToClose        // to an HTTP/1.0 client, ended by closing
)

func (x *exchange) bodyMode() int {
	rh := x.resp()
	switch {
	case x.h.head || rh.code == http.StatusNoContent || rh.code == http.StatusNotModified:
		return bodyNone
	case !rh.chunked && rh.length >= 0:
		return bodyLength
	case x.h.http10:
		return bodyToClose
	}
	return bodyChunked
}

// keepClient reports whether the client connection stays open after this
// response: the client allows it, no drain or shutdown is under way, the
// body has an end the client can see, and the request was read whole.
func (x *exchange) keepClient() bool {
	p := x.p
	return x.h.keepOpen() && !p.quiesce.Load() && !p.shutting.Load() &&
		x.bodyMode() != bodyToClose && x.bodyLeft == 0
}

// answerError answers the client with code and msg as net/http's
// http.Error does, and reports whether the connection stays open.
func (x *exchange) answerError(code int, msg string) bool {
	keep := x.h.keepOpen() && x.bodyLeft == 0 && !x.p.quiesce.Load() && !x.p.shutting.Load()
	b := appendStatusLine(x.cc.bw.AvailableBuffer(), x.h.http10, code, []byte(http.StatusText(code)))
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"...)
	b = appendLength(b, int64(len(msg)+1))
	if !keep {
		b = append(b, "Connection: close\r\n"...)
	} else if x.h.http10 {
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, msg...)
	b = append(b, '\n')
	if _, err := x.cc.bw.Write(b); err != nil || x.cc.bw.Flush() != nil {
		return false
	}
	if !keep && x.bodyLeft != 0 {
		x.cc.lingerClose()
	}
	return keep
}
