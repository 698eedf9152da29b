package main

import (
	"log"
	"net/http/httptest"
	"strings"
	"testing"
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
