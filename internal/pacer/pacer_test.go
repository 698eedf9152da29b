package pacer

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/clock/clocktest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestBackoffAndRateLimit: pauses double from 5ms to 1s and restart after
// OK; a run of failures logs one line per 10s carrying the count of the
// rest (issue 9 case 6: 1.3 million lines in 20 s before).
func TestBackoffAndRateLimit(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	var out syncBuf
	p := New(slog.New(slog.NewTextHandler(&out, nil)), "accept failed", clk)
	emfile := errors.New("accept4: too many open files")
	var got []time.Duration
	for range 10 {
		got = append(got, p.Fail(emfile))
	}
	want := []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("pauses = %v, want %v ms", got, want)
		}
	}
	if n := strings.Count(out.String(), "accept failed"); n != 1 {
		t.Errorf("logged %d lines for 10 failures within 10s, want 1:\n%s", n, out.String())
	}
	clk.Advance(LogEvery)
	p.Fail(emfile)
	if n := strings.Count(out.String(), "accept failed"); n != 2 || !strings.Contains(out.String(), "suppressed=9") {
		t.Errorf("after 10s: log\n%s\nwant a second line with suppressed=9", out.String())
	}
	p.OK()
	if d := p.Fail(emfile); d != MinDelay {
		t.Errorf("pause after OK = %v, want %v", d, MinDelay)
	}
}

// TestWaitStops: Wait returns false at once when done is closed.
func TestWaitStops(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	p := New(nil, "x", clk)
	done := make(chan struct{})
	close(done)
	if p.Wait(errors.New("e"), done) {
		t.Error("Wait with done closed = true, want false")
	}
}
