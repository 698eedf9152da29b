package l7

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// TestLingeringCloseInCheckWindow: a real answers one request keep-alive,
// then half-closes (shutdown(SHUT_WR), reading on, as Apache's lingering
// close does). Its FIN reaches the idle connection after the pool's last
// idle check, while that check still vouches for it (checkValid, here
// made an hour), so the connection is taken without a fresh look. The
// next request must still get its answer at once: the read of the answer
// finds the EOF (a stale connection) and the request goes again on a new
// one. A read that waited for readiness before its first try (sending the
// request inside it, to save the empty read) missed the FIN, which came
// before the wait began, and hung until the client left.
func TestLingeringCloseInCheckWindow(t *testing.T) {
	halfClose := make(chan struct{})
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, i int) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if i == 0 && req.URL.Path == "/first" {
				<-halfClose
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c) // lingering: reads on, never an RST
				return
			}
		}
	})
	px, url := start(t, upstreamtest.NewPicker(addr))
	c, br := dialProxy(t, strings.TrimPrefix(url, "http://"))
	if resp, body := ask(t, c, br, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n", "GET"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("first: %d %q", resp.StatusCode, body)
	}
	pool := px.pool.Load()
	pool.mu.Lock()
	pool.checkValid = time.Hour
	if _, ok := pool.check(nil); !ok {
		pool.mu.Unlock()
		t.Fatal("the pool's idle check failed")
	}
	if len(pool.idle[addr]) != 1 {
		pool.mu.Unlock()
		t.Fatalf("idle connections to the real: %d, want 1", len(pool.idle[addr]))
	}
	bc := pool.idle[addr][0]
	pool.mu.Unlock()
	close(halfClose)
	// The FIN is queued at the proxy's end once poll(2) reports POLLRDHUP.
	var fd int
	bc.rc.Control(func(s uintptr) { fd = int(s) })
	testkit.WaitFD(t, fd, unix.POLLRDHUP, "the real's FIN")
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, body := ask(t, c, br, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("second: %d %q", resp.StatusCode, body)
	}
	if n := px.Stats().StaleRetries; n != 1 {
		t.Errorf("StaleRetries = %d, want 1 (the half-closed connection, then a new one)", n)
	}
}
