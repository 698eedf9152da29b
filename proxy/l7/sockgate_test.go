package l7

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/connlimit"
	"github.com/hapair/hapair/proxy/proxytest"
	"github.com/hapair/hapair/proxy/upstream/upstreamtest"
)

// Every way a client connection ends gives its gate slot back and leaves
// Stats.Open once: answered and closed, idle keep-alive and mid-head ones
// closed by Close, handed to net/http's server and kept alive there, and
// refused while inactive (counted in Refused, never in Open).
func TestSockGateSlotsAndOpenOnce(t *testing.T) {
	real := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	limit := connlimit.New(64)
	px := New(upstreamtest.NewPicker(real), Config{Service: "web", ConnectTimeout: time.Second}, nil)
	done := make(chan struct{})
	px.SetGate(connlimit.NewGate(limit), done)
	px.SetActive(true)
	proxytest.Serve(t, func() error { return px.Serve(ln) }, func() { close(done); px.Close() })

	// Refused while inactive: reset, never open.
	px.SetActive(false)
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			continue // reset before connect returned
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("inactive proxy answered (%d bytes)", n)
		}
		c.Close()
	}
	testkit.WaitFor(t, "3 refused", func() bool { return px.Stats().Refused == 3 })
	px.SetActive(true)

	keep := "GET / HTTP/1.1\r\nHost: svc\r\n\r\n"
	slow := "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" // handed off
	for range 5 {
		c, br := dialProxy(t, addr)
		ask(t, c, br, "GET / HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n", "GET")
		c.Close()
	}
	var held []net.Conn
	for range 5 {
		for _, req := range []string{keep, slow} {
			c, br := dialProxy(t, addr)
			ask(t, c, br, req, "GET")
			held = append(held, c)
		}
		c, _ := dialProxy(t, addr)
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: sv") // mid-head
		held = append(held, c)
	}
	testkit.WaitFor(t, "15 open", func() bool { return px.Stats().Open == 15 })
	if n := limit.Stats().InUse; n < 15 {
		t.Errorf("gate in use %d with 15 open", n)
	}
	px.Close()
	testkit.WaitFor(t, "nothing open", func() bool { return px.Stats().Open == 0 })
	testkit.WaitFor(t, "every slot back", func() bool { return limit.Stats().InUse == 0 })
	for _, c := range held {
		if _, err := io.ReadAll(c); err != nil && !isReset(err) {
			t.Errorf("held connection after Close: %v", err)
		}
	}
	if st := px.Stats(); st.Refused != 3 || st.Open != 0 {
		t.Errorf("stats %+v: want Refused 3, Open 0", st)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// A large answer (more than the socket buffers hold, so writes wait in
// the poller) that ends the connection reaches the client whole, chunked
// and length-framed alike, to HTTP/1.1 "Connection: close" and HTTP/1.0
// clients.
func TestLargeLastAnswerWhole(t *testing.T) {
	const size = 8 << 20
	body := strings.Repeat("0123456789abcdef", size/16)
	real := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.URL.Path == "/eof" {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n"+body)
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"+body)
	})
	_, url := start(t, upstreamtest.NewPicker(real))
	addr := strings.TrimPrefix(url, "http://")
	for _, raw := range []string{
		"GET /cl HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n",
		"GET /cl HTTP/1.0\r\n\r\n",
		"GET /eof HTTP/1.0\r\n\r\n",
	} {
		c, br := dialProxy(t, addr)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || len(got) != size || string(got) != body {
			t.Fatalf("%q: %d of %d bytes, %v", raw, len(got), size, err)
		}
		if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("%q: after the answer: %d, %v; want EOF", raw, n, err)
		}
	}
}

// A client that waits for "100 Continue" before its body (curl does, for
// a large upload) gets it through the hand-off to net/http (a duplicate
// of the raw socket), then its answer.
func TestExpectContinueWaitingClient(t *testing.T) {
	_, _, addr := newScriptReal(t)
	c, br := dialProxy(t, addr)
	if _, err := io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: svc\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first line %q, %v; want 100 Continue before the body", line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100: %q, %v", blank, err)
	}
	if resp, body := ask(t, c, br, "hi", "POST"); resp.StatusCode != 200 || body != "hi" {
		t.Errorf("answer %d %q, want 200 \"hi\"", resp.StatusCode, body)
	}
}

// A request watched while its real is slow (the watch puts the raw socket
// in the poller from its own goroutine, and disarm wakes it with a past
// deadline) is answered, and the connection then serves a next request
// (its idle deadline set anew) or closes after a last answer as asked.
func TestWatchedRequestThenNext(t *testing.T) {
	release := make(chan struct{})
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/slow" {
				<-release
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	px, url := start(t, upstreamtest.NewPicker(addr))
	c, br := dialProxy(t, strings.TrimPrefix(url, "http://"))
	c2, br2 := dialProxy(t, strings.TrimPrefix(url, "http://"))
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: svc\r\n\r\n")
	io.WriteString(c2, "GET /slow HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n")
	// The scenario: the real answers only once both requests are watched
	// (each waited watchAfter, and its watch reads the client socket).
	testkit.WaitFor(t, "both requests watched", func() bool {
		on := 0
		px.conns.Each(func(cc *clientConn) {
			if cc.w.state.Load()&3 == watchOn {
				on++
			}
		})
		return on == 2
	})
	close(release)
	for _, req := range []string{"", "GET /fast HTTP/1.1\r\nHost: svc\r\n\r\n"} {
		if resp, body := ask(t, c, br, req, "GET"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("keep-alive answer %d %q", resp.StatusCode, body)
		}
	}
	if resp, body := ask(t, c2, br2, "", "GET"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("closing answer %d %q", resp.StatusCode, body)
	}
	if n, err := br2.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the last answer: %d, %v; want EOF", n, err)
	}
}

// A listener that is not a *net.TCPListener (here a Unix socket) is
// served through the net package's Accept, and closing it ends Serve.
func TestNonTCPListener(t *testing.T) {
	real := rawServer(t, func(c net.Conn, br *bufio.Reader, _ int) {
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	path := t.TempDir() + "/l7.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	px := New(upstreamtest.NewPicker(real), Config{Service: "web", ConnectTimeout: time.Second}, nil)
	px.SetActive(true)
	served := make(chan error, 1)
	go func() { served <- px.Serve(ln) }()
	t.Cleanup(px.Close)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for range 2 {
		if resp, body := ask(t, c, br, "GET / HTTP/1.1\r\nHost: svc\r\n\r\n", "GET"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("answer %d %q", resp.StatusCode, body)
		}
	}
	ln.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil after the listener closed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running after its listener closed")
	}
	testkit.WaitFor(t, "one open", func() bool { return px.Stats().Open == 1 })
}
