package main

import (
	"bufio"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSIPReply(t *testing.T) {
	s := &server{name: "backend1", log: log.New(new(strings.Builder), "", 0)}
	req := "OPTIONS sip:198.18.0.21 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.11;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n" +
		"From: <sip:check@198.18.0.11>;tag=1\r\nTo: <sip:198.18.0.21>\r\nCall-ID: abc\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	want := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 198.18.0.11;branch=z9hG4bK1\r\nFrom: <sip:check@198.18.0.11>;tag=1\r\n" +
		"To: <sip:198.18.0.21>\r\nCall-ID: abc\r\nCSeq: 1 OPTIONS\r\nServer: backend1\r\nContent-Length: 0\r\n\r\n"
	if got := s.sipReply(req); got != want {
		t.Errorf("sipReply(OPTIONS) =\n%q\nwant\n%q", got, want)
	}
	s.down.Store(true)
	if got := s.sipReply(req); !strings.HasPrefix(got, "SIP/2.0 503 Service Unavailable\r\n") {
		t.Errorf("sipReply(OPTIONS) while down = %q, want 503", got)
	}
}

func TestServeHTTP(t *testing.T) {
	s := &server{name: "backend2"}
	for _, tc := range []struct {
		path       string
		down       bool
		wantStatus int
		wantBody   string
	}{
		{"/", false, 200, "backend2\n"},
		{"/anything", true, 200, "backend2\n"},
		{"/status", false, 200, "ok backend2\n"},
		{"/status", true, 503, "down backend2\n"},
	} {
		s.down.Store(tc.down)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.wantStatus || w.Body.String() != tc.wantBody || w.Header().Get("X-Backend") != "backend2" {
			t.Errorf("GET %s (down=%v) = %d %q X-Backend %q, want %d %q backend2", tc.path, tc.down, w.Code, w.Body.String(), w.Header().Get("X-Backend"), tc.wantStatus, tc.wantBody)
		}
	}
}

// TestStart: a port of 0 starts nothing; a port taken is an error naming
// the server; a server started answers and ends when its listener closes.
func TestStart(t *testing.T) {
	s := &server{name: "backend3", log: log.New(new(strings.Builder), "", 0)}
	ls := &listeners{addr: "127.0.0.1", errc: make(chan error, 3)}
	defer ls.close()
	if err := start(ls, "udp", 0, net.ListenPacket, "udp", s.serveUDP); err != nil || len(ls.closers) != 0 {
		t.Errorf("start(port 0) = %v with %d listeners, want nil and none", err, len(ls.closers))
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := busy.Addr().(*net.TCPAddr).Port
	if err := start(ls, "tcp", port, net.Listen, "tcp", s.serveTCP); err == nil || !strings.HasPrefix(err.Error(), "labsrv: listening for tcp: ") {
		t.Errorf("start(taken port) = %v, want labsrv: listening for tcp: ...", err)
	}
	busy.Close()
	if err := start(ls, "tcp", port, net.Listen, "tcp", s.serveTCP); err != nil {
		t.Fatalf("start(tcp) = %v", err)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "backend3\n" {
		t.Errorf("banner = %q, %v, want backend3", line, err)
	}
	ls.close()
	if err := <-ls.errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("server end after close = %v, want net.ErrClosed", err)
	}
}
