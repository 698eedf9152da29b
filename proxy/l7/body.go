package l7

import (
	"fmt"
	"io"
	"math"
	"net/http/httputil"
	"runtime"
	"time"

	"github.com/hapair/hapair/proxy/upstream"
)

// yieldBudget is how long a request may have been in the proxy (since its
// head was read) for its answer still to wait for the others of a busy
// moment (relay); a later one is flushed at once. 250 µs rather than the
// 1 ms first chosen: HTTP keep-alive A/B against 1 ms in four runs of 6
// to 8 interleaved rounds (bench -base), median of the per-round p99
// ratios 0.87, 0.94, 0.97 and 0.99, req/s 0.99 to 1.04.
const yieldBudget = 250 * time.Microsecond

// relay copies the response body from the real to the client in the
// framing bodyMode chose, flushes, and reports whether the client
// connection stays open. The client's writer is flushed whenever the real
// has nothing more buffered, so a streamed answer (server-sent events)
// reaches the client as it comes and a small one in one write.
func (x *exchange) relay() (bool, error) {
	rh, cc := x.resp(), x.cc
	x.bc.lr.left = math.MaxInt64
	mode := x.bodyMode()
	var err error
	switch {
	case mode == bodyNone:
	case rh.chunked:
		err = x.relayChunked(mode == bodyChunked)
	case rh.length >= 0:
		err = x.copyBody(cc.bw, x.bc.br, rh.length)
	default:
		// Neither length nor chunked: the body ends when the real closes
		// (RFC 9112 section 6.3, last rule), so its connection is done.
		rh.close = true
		err = x.copyFramed(mode == bodyChunked)
	}
	if err == nil {
		x.end(true)
		// Let every other connection that can run go first, so that the
		// answers of a busy moment reach the clients in one burst, as an
		// event loop (HAProxy, nginx) sends them: a client's process is
		// then woken once per burst rather than once per answer. Without
		// it each answer went out between two turns of the real (which a
		// send to it wakes), and waking the client from idle for each one
		// cost a quarter of the proxy's CPU per request in the bench.
		// A request already in the proxy for yieldBudget is answered at
		// once: a yield waits behind every runnable connection (with one
		// P, until the run queue is empty), and the answers that were
		// already late were the ones a yield pushed into the bench's p99
		// (2.6-3.0 ms without this, 2.2-2.5 ms with it).
		if time.Since(clockBase)-x.began < yieldBudget {
			runtime.Gosched()
		}
	}
	keep := x.keepClient()
	if err == nil && !keep {
		cc.lastWrite()
	}
	if err == nil && cc.bw.Flush() != nil {
		err = errClient
	}
	return keep, err
}

// copyFramed copies a body that ends at the real's close, chunked for an
// HTTP/1.1 client.
func (x *exchange) copyFramed(chunk bool) error {
	if !chunk {
		return x.copyBody(x.cc.bw, x.bc.br, -1)
	}
	cw := httputil.NewChunkedWriter(x.cc.bw)
	if err := x.copyBody(cw, x.bc.br, -1); err != nil {
		return err
	}
	_ = cw.Close()
	_, _ = x.cc.bw.WriteString("\r\n")
	return nil
}

// relayChunked decodes a chunked body (net/http's strict chunk parser)
// and re-encodes it for an HTTP/1.1 client with the trailer fields, or
// sends it bare to an HTTP/1.0 one.
func (x *exchange) relayChunked(chunk bool) error {
	bc, cc := x.bc, x.cc
	var w io.Writer = cc.bw
	var cw io.WriteCloser
	if chunk {
		cw = httputil.NewChunkedWriter(cc.bw)
		w = cw
	}
	if err := x.copyBody(w, httputil.NewChunkedReader(bc.br), -1); err != nil {
		return err
	}
	if chunk {
		_ = cw.Close() // the last chunk, "0\r\n"
	}
	bc.lr.left = maxResponseHeaderBytes
	defer func() { bc.lr.left = math.MaxInt64 }()
	for {
		line, err := bc.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("%w: reading trailer from real %s: %w", errAnswered, bc.addr, err)
		}
		line, _ = nextLine(line)
		if len(line) == 0 {
			break
		}
		if _, _, ok := splitField(line); !ok {
			return fmt.Errorf("%w: malformed trailer line %q from real %s", errAnswered, line, bc.addr)
		}
		if chunk {
			_, _ = cc.bw.Write(line)
			_, _ = cc.bw.WriteString("\r\n")
		}
	}
	if chunk {
		_, _ = cc.bw.WriteString("\r\n")
	}
	return nil
}

// copyBody copies n bytes (n < 0: to EOF) from src, which reads the
// real's connection, to w, which writes to the client's writer.
func (x *exchange) copyBody(w io.Writer, src io.Reader, n int64) error {
	bc, cc := x.bc, x.cc
	if src == io.Reader(bc.br) && n >= 0 && int64(bc.br.Buffered()) >= n {
		// All of it came with the head: the common small answer.
		b, _ := bc.br.Peek(int(n))
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("%w: %w", errClient, err)
		}
		_, _ = bc.br.Discard(int(n))
		x.countOut(int(n))
		return nil
	}
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	for n != 0 {
		if bc.br.Buffered() == 0 && cc.bw.Buffered() > 0 {
			// About to wait for the real: send what the client has.
			if err := cc.bw.Flush(); err != nil {
				return fmt.Errorf("%w: %w", errClient, err)
			}
		}
		m := len(buf)
		if n > 0 && int64(m) > n {
			m = int(n)
		}
		k, err := src.Read(buf[:m])
		if k > 0 {
			x.countOut(k)
			if n > 0 {
				n -= int64(k)
			}
			if _, werr := w.Write(buf[:k]); werr != nil {
				return fmt.Errorf("%w: %w", errClient, werr)
			}
		}
		if err == io.EOF {
			if n > 0 {
				return fmt.Errorf("%w: response body from real %s: %w", errAnswered, bc.addr, io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: reading response body from real %s: %w", errAnswered, bc.addr, err)
		}
	}
	return nil
}

// countOut counts response body bytes for the proxy and the real.
func (x *exchange) countOut(n int) {
	x.p.bytesOut.Add(uint64(n))
	if bc, ok := x.up.(upstream.ByteCounter); ok {
		bc.AddBytes(0, uint64(n))
	}
}
