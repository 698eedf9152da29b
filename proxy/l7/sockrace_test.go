package l7

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/accept"
)

// Close racing every other call (a Read waiting in the poller or about to
// register, deadlines from another goroutine as watch.go's disarm sets
// them, LocalAddr, the hand-off's duplicate) closes the descriptor exactly
// once: none is left open, and none opened meanwhile (sentinels that may
// take a closed number) is closed by a second close.
func TestSockCloseRacesNoLeakNoDoubleClose(t *testing.T) {
	const rounds = 60
	before := testkit.OpenFDs(t)
	var sentinels [][2]int
	for i := range rounds {
		// A subtest per round: sockPair's listener closes with it.
		t.Run("", func(t *testing.T) {
			s, c := sockPair(t)
			var wg sync.WaitGroup
			wg.Add(4)
			go func() { defer wg.Done(); _, _ = s.Read(make([]byte, 8)) }()
			go func() {
				defer wg.Done()
				for range 20 {
					_ = s.SetReadDeadline(aLongTimeAgo)
					_ = s.SetReadDeadline(time.Time{})
				}
			}()
			go func() { defer wg.Done(); _ = s.LocalAddr() }()
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					if nc, err := s.netConn(); err == nil {
						_ = nc.Close()
					}
				}
			}()
			if i%3 == 0 {
				runtime.Gosched() // lets the Read reach the poller in some rounds
			}
			_ = s.Close()
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Error(err)
				return
			}
			sentinels = append(sentinels, p)
			wg.Wait()
			c.Close()
		})
	}
	for _, p := range sentinels {
		for _, fd := range p {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
				t.Fatalf("sentinel descriptor %d closed by someone else: %v", fd, err)
			}
		}
	}
	for _, p := range sentinels {
		unix.Close(p[0])
		unix.Close(p[1])
	}
	testkit.WaitFor(t, "descriptors closed", func() bool { return testkit.OpenFDs(t) <= before })
}

// An IPv4 client of a dual-stack listener is seen by its IPv4 address
// (not ::ffff:a.b.c.d), and an IPv6 client by its IPv6 address, as the net
// package reports them (X-Forwarded-For, persistence, ACLs).
func TestSockDualStackClient(t *testing.T) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Skipf("no IPv6 listener: %v", err)
	}
	defer ln.Close()
	acc, err := accept.New(ln)
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	for _, ip := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
		c, err := net.DialTCP("tcp", nil, &net.TCPAddr{IP: ip, Port: port})
		if err != nil {
			t.Logf("no client on %v: %v", ip, err)
			continue
		}
		fd, from, err := acc.Accept()
		if err != nil {
			t.Fatal(err)
		}
		s := newClientSock(fd, from)
		ap := c.LocalAddr().(*net.TCPAddr).AddrPort()
		if want := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()); from != want {
			t.Errorf("client %v: remote %v, want %v", ip, from, want)
		}
		if got := s.RemoteAddr().String(); got != c.LocalAddr().String() {
			t.Errorf("client %v: RemoteAddr %v, want %v", ip, got, c.LocalAddr())
		}
		s.Close()
		c.Close()
	}
}

// Every answer the proxy sends last before it closes (corked with
// MSG_MORE for the FIN) reaches the client whole, then the end of the
// stream: HTTP/1.0, HEAD, 204, 304, chunked, a body ended by the real's
// close, a client that half-closed after its request, and one whose
// pipelined next request is left unread (the close then resets).
func TestLastAnswerReachesClient(t *testing.T) {
	_, _, addr := newScriptReal(t)
	cases := []struct {
		raw, method, body string
		code              int
		halfClose         bool
	}{
		{raw: "GET /cl HTTP/1.0\r\n\r\n", method: "GET", body: "hello", code: 200},
		{raw: "GET /close HTTP/1.0\r\n\r\n", method: "GET", body: "until the end", code: 200},
		{raw: "HEAD /cl HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", method: "HEAD", code: 200},
		{raw: "GET /204 HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", method: "GET", code: 204},
		{raw: "GET /304 HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", method: "GET", code: 304},
		{raw: "GET /chunked HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", method: "GET", body: "abcde", code: 200},
		{raw: "GET /cl HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", method: "GET", body: "hello", code: 200, halfClose: true},
		{raw: "GET /cl HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\nGET /cl HTTP/1.1\r\nHost: svc\r\n\r\n", method: "GET", body: "hello", code: 200},
	}
	for _, tc := range cases {
		for range 3 {
			c, br := dialProxy(t, addr)
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			if tc.halfClose {
				c.(*net.TCPConn).CloseWrite()
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: tc.method})
			if err != nil {
				t.Fatalf("%q: reading the answer: %v", tc.raw, err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || string(b) != tc.body || resp.StatusCode != tc.code {
				t.Fatalf("%q: %d %q, %v; want %d %q", tc.raw, resp.StatusCode, b, err, tc.code, tc.body)
			}
			if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%q: after the answer: %d, %v; want the end of the stream", tc.raw, n, err)
			}
			c.Close()
		}
	}
}
