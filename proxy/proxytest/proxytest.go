// Package proxytest provides counting fake backends for the balancer's
// tests: TCP, HTTP and UDP servers on 127.0.0.1 that identify themselves in
// every answer and count what they served.
//
// It must not listen on anything but loopback, and everything it starts is
// stopped by Close or by the test's Cleanup.
package proxytest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// Backend is one fake real server.
type Backend struct {
	Name string
	Addr netip.AddrPort

	served atomic.Int64
	mu     sync.Mutex
	last   http.Header
	closer func()
	once   sync.Once
}

// Served returns how many requests (TCP connections, HTTP requests or UDP
// datagrams) the backend has answered.
func (b *Backend) Served() int64 { return b.served.Load() }

// LastHeader returns header key of the last HTTP request served.
func (b *Backend) LastHeader(key string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last.Get(key)
}

// Close stops the backend and drops its connections: a crashed real.
func (b *Backend) Close() { b.once.Do(b.closer) }

// TCP starts a TCP backend: it echoes what it reads and, when the client
// half-closes, writes "|" + name and closes. A client that sends "ping" and
// shuts its write side reads "ping|name" — which needs half-close to work
// through the proxy.
func TCP(tb testing.TB, name string) *Backend {
	tb.Helper()
	ln, b := listen(tb, name)
	b.closer = testkit.ServeConns(tb, ln, func(c net.Conn, _ int) {
		if _, err := io.Copy(c, c); err != nil {
			return
		}
		if _, err := io.WriteString(c, "|"+name); err == nil {
			b.served.Add(1)
		}
	}).Close
	tb.Cleanup(b.Close)
	return b
}

// HTTP starts an HTTP backend answering every path with its name as the
// body and an X-Backend header; /status answers "ok" (for negotiate
// checks) and is not counted.
func HTTP(tb testing.TB, name string) *Backend {
	tb.Helper()
	ln, b := listen(tb, name)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			io.WriteString(w, "ok")
			return
		}
		b.mu.Lock()
		b.last = r.Header.Clone()
		b.mu.Unlock()
		b.served.Add(1)
		w.Header().Set("X-Backend", name)
		io.WriteString(w, name)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("proxytest: serving %q: %v", name, err)
		}
	}()
	b.closer = func() {
		_ = srv.Close()
		<-done
	}
	tb.Cleanup(b.Close)
	return b
}

// UDP starts a UDP backend answering each datagram with name + ":" + the
// datagram.
func UDP(tb testing.TB, name string) *Backend {
	tb.Helper()
	return UDPFunc(tb, name, func(req []byte) [][]byte {
		return [][]byte{fmt.Appendf(nil, "%s:%s", name, req)}
	})
}

// UDPFunc starts a UDP backend answering each datagram with the datagrams
// reply returns for it, in order; none leaves the request unanswered.
// reply runs on the backend's one receiving goroutine. Served counts the
// answers sent.
func UDPFunc(tb testing.TB, name string, reply func(req []byte) [][]byte) *Backend {
	tb.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("proxytest: listening for %q: %v", name, err)
	}
	b := &Backend{Name: name, Addr: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			for _, out := range reply(buf[:n]) {
				if _, err := pc.WriteToUDPAddrPort(out, from); err == nil {
					b.served.Add(1)
				}
			}
		}
	}()
	b.closer = func() {
		_ = pc.Close()
		<-done
	}
	tb.Cleanup(b.Close)
	return b
}

// Serve runs serve (a data path's Serve loop) in a goroutine until the test
// ends; then it calls stop (closing the listener or the proxy) and fails tb
// unless serve returned nil.
func Serve(tb testing.TB, serve func() error, stop func()) {
	done := make(chan error, 1)
	go func() { done <- serve() }()
	tb.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			tb.Errorf("Serve() = %v, want nil after Close", err)
		}
	})
}

// listen opens a loopback TCP listener for the backend called name.
func listen(tb testing.TB, name string) (net.Listener, *Backend) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxytest: listening for %q: %v", name, err)
	}
	return ln, &Backend{Name: name, Addr: ln.Addr().(*net.TCPAddr).AddrPort()}
}

// ClosedPort returns a loopback TCP address nothing listens on (a connect
// is refused): a dead real, or a free port for a service to bind. It is
// testkit.ClosedPort's: never one handed out before in the process, and
// never one the kernel could give a test's own socket.
func ClosedPort(tb testing.TB) netip.AddrPort {
	tb.Helper()
	return testkit.ClosedPort(tb, "tcp")
}

// Dial connects to addr over TCP with a 5s deadline for the whole exchange
// and closes the connection when the test ends.
func Dial(tb testing.TB, addr string) *net.TCPConn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatalf("proxytest: dialing %s: %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c.(*net.TCPConn)
}

// UDPRequest sends msg to addr in one datagram and returns the first
// datagram that comes back. It gives up after 5s.
func UDPRequest(addr netip.AddrPort, msg string) (string, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// TCPRequest connects to addr, sends msg, half-closes and returns all it
// reads back. It is the request of the TCP backend's protocol. It gives up
// after 5s.
func TCPRequest(addr string, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}
