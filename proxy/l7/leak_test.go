package l7

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// Every way a request can end leaves nothing counted: not in flight on the
// proxy (what `hactl standby --drain` waits for), not active on its real
// (what lc and wlc schedule on), and no client connection open once the
// client has gone (its connlimit slot is given back with it). Each case is
// a real or a client that ends the request its own way.
func TestNothingStaysCounted(t *testing.T) {
	const plainGET = "GET / HTTP/1.1\r\nHost: svc\r\n\r\n"
	const upgradeGET = "GET / HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
	// waitClosed holds the real's side until the proxy closes it.
	waitClosed := func(br *bufio.Reader) { _, _ = io.Copy(io.Discard, br) }
	tests := []struct {
		name string
		req  string
		real func(c net.Conn, br *bufio.Reader)
		// client reads what it wants of the answer, then the test closes
		// the connection.
		client func(br *bufio.Reader, c net.Conn) error
	}{
		{"answered", plainGET, func(c net.Conn, br *bufio.Reader) {
			for {
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}, readAll},
		{"client leaves mid-body", plainGET, func(c net.Conn, br *bufio.Reader) {
			http.ReadRequest(br)
			// More than the proxy buffers, so the head reaches the client.
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("x", 64<<10))
			waitClosed(br)
		}, readHead},
		{"real resets mid-body", plainGET, func(c net.Conn, br *bufio.Reader) {
			http.ReadRequest(br)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
			c.(*net.TCPConn).SetLinger(0)
		}, readAny},
		{"real never answers, client leaves", plainGET, func(c net.Conn, br *bufio.Reader) {
			http.ReadRequest(br)
			waitClosed(br)
		}, func(*bufio.Reader, net.Conn) error { return nil }},
		{"upgrade, then client leaves", upgradeGET, func(c net.Conn, br *bufio.Reader) {
			http.ReadRequest(br)
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			io.Copy(c, br)
		}, readHead},
		// ReverseProxy answers 502 to these without closing the response
		// body it was handed.
		{"101 not asked for", plainGET, func(c net.Conn, br *bufio.Reader) {
			http.ReadRequest(br)
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			waitClosed(br)
		}, status(http.StatusBadGateway)},
		{"101 to another protocol", upgradeGET, func(c net.Conn, br *bufio.Reader) {
			http.ReadRequest(br)
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			waitClosed(br)
		}, status(http.StatusBadGateway)},
		// net/http's WriteHeader panics on a status below 100 (the server
		// recovers); the real's response must not get that far.
		{"status below 100", plainGET, func(c net.Conn, br *bufio.Reader) {
			http.ReadRequest(br)
			io.WriteString(c, "HTTP/1.1 099 Odd\r\nContent-Length: 4\r\n\r\nodd!")
			waitClosed(br)
		}, status(http.StatusBadGateway)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) { tc.real(c, br) })
			picker := upstreamtest.NewPicker(addr)
			px, url := start(t, picker)
			for i := range 3 {
				c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, tc.req)
				if err := tc.client(bufio.NewReader(c), c); err != nil {
					t.Errorf("request %d: %v", i, err)
				}
				c.Close()
				testkit.WaitFor(t, fmt.Sprintf("request %d counted nowhere", i), func() bool {
					active, _ := picker.Reals[0].Counts()
					st := px.Stats()
					return st.InFlight == 0 && st.Open == 0 && active == 0
				})
			}
		})
	}
}

// readAll reads one response to its end (a short read is fine: the real
// may reset it).
func readAll(br *bufio.Reader, _ net.Conn) error {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// readAny reads whatever comes: a client whose request failed.
func readAny(br *bufio.Reader, _ net.Conn) error {
	_, _ = io.Copy(io.Discard, br)
	return nil
}

// status reads one response and wants its status to be code.
func status(code int) func(*bufio.Reader, net.Conn) error {
	return func(br *bufio.Reader, _ net.Conn) error {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return fmt.Errorf("reading the response: %w", err)
		}
		if resp.StatusCode != code {
			return fmt.Errorf("status %d, want %d", resp.StatusCode, code)
		}
		return nil
	}
}

// readHead reads one response head and leaves.
func readHead(br *bufio.Reader, _ net.Conn) error {
	if _, err := http.ReadResponse(br, nil); err != nil {
		return fmt.Errorf("reading the response head: %w", err)
	}
	return nil
}
