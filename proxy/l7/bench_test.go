package l7

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// The benchmarks drive the proxy over loopback with a raw HTTP/1.1 client
// and a raw real that allocate nothing per request, so -benchmem's
// allocs/op and a CPU profile are the proxy's (go test -bench L7 -benchmem
// -cpuprofile ...). Each b.N is a bounded number of requests.

// rawReal answers every request head on ln with a fixed 13-byte body,
// keeping the connection open, until the benchmark ends.
func rawReal(b *testing.B, ln net.Listener) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n")
	testkit.ServeConns(b, ln, func(c net.Conn, _ int) {
		br := bufio.NewReader(c)
		for {
			if err := skipHead(br); err != nil {
				return
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// skipHead reads one request head (the benchmarks send no bodies).
func skipHead(br *bufio.Reader) error {
	_, err := benchHead(br)
	return err
}

// benchHead reads one head and returns its Content-Length, -1 when it has
// none.
func benchHead(br *bufio.Reader) (int, error) {
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			return n, nil
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
}

// readResp reads one response and checks it is the real's.
func readResp(b *testing.B, br *bufio.Reader) {
	n, err := benchHead(br)
	if err != nil {
		b.Fatal(err)
	}
	if n != 13 {
		b.Fatalf("Content-Length %d, want 13", n)
	}
	if _, err := br.Discard(n); err != nil {
		b.Fatal(err)
	}
}

func benchProxy(b *testing.B) string {
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rawReal(b, rl)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	px := New(upstreamtest.NewPicker(rl.Addr().(*net.TCPAddr).AddrPort()), Config{Service: "bench", ConnectTimeout: time.Second}, nil)
	px.SetActive(true)
	proxytest.Serve(b, func() error { return px.Serve(ln) }, func() { px.Close() })
	return ln.Addr().String()
}

// BenchmarkL7KeepAlive sends b.N requests over kept-alive client
// connections, several in parallel.
func BenchmarkL7KeepAlive(b *testing.B) {
	addr := benchProxy(b)
	req := []byte("GET /x HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			readResp(b, br)
		}
	})
}

// BenchmarkL7NewConn opens a client connection per request.
func BenchmarkL7NewConn(b *testing.B) {
	addr := benchProxy(b)
	req := []byte("GET /x HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\nConnection: close\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		br := bufio.NewReader(nil)
		for pb.Next() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			br.Reset(c)
			if _, err := c.Write(req); err != nil {
				b.Error(err)
			}
			readResp(b, br)
			c.Close()
		}
	})
}
