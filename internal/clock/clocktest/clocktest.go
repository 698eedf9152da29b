// Package clocktest provides the fake clock.Clock for tests: time moves only
// when the test calls Advance, and due timers fire in Advance's goroutine, in
// deadline order. It follows tailscale's tstest.Clock.
//
// Like a real host's clock it keeps two readings. Advance moves both the wall
// and the monotonic reading; StepWall moves the wall reading alone, as NTP or
// date -s would. Times from Now carry the fake's monotonic reading, so
// t2.Sub(t1), Since, Before and After follow monotonic time across a wall
// step, and timers never fire because of one: a test can check that code
// measures durations on the monotonic clock (clock package contract).
//
// It does no I/O and never reads the system clock after package init.
package clocktest

import (
	"sort"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/clock"
)

var _ clock.Clock = (*Clock)(nil)

// DefaultStart is the wall time of a clock made with a zero start.
var DefaultStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a manual clock.Clock. Use New; it is safe for concurrent use.
type Clock struct {
	mu       sync.Mutex
	mono     time.Duration // monotonic time since New
	wallBase time.Time     // wall reading at mono 0, moved by StepWall
	seq      int
	timers   []*timer // armed timers and tickers
}

// New returns a fake clock whose wall reading is start (DefaultStart if
// zero) and whose monotonic reading is 0.
func New(start time.Time) *Clock {
	if start.IsZero() {
		start = DefaultStart
	}
	return &Clock{wallBase: start.Round(0)}
}

func (c *Clock) nowLocked() time.Time { return withMono(c.wallBase.Add(c.mono), c.mono) }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

// Since returns the monotonic time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// After returns a channel that receives the time once the clock has been
// advanced by d (at once when d <= 0).
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// NewTimer returns a timer that sends on C once the clock has been advanced
// by d (at once when d <= 0).
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	t := &timer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// AfterFunc arranges for f to run in Advance's goroutine once the clock has
// been advanced by d (by the next Advance, even Advance(0), when d <= 0).
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	t := &timer{c: c, f: f}
	t.Reset(d)
	return t
}

// NewTicker returns a ticker that sends on C every d of advanced time.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("clocktest: non-positive interval for NewTicker") // as time.NewTicker
	}
	t := &timer{c: c, ch: make(chan time.Time, 1), period: d}
	t.Reset(d)
	return ticker{t}
}

// Advance moves the wall and monotonic readings forward by d, firing the
// timers that fall due in deadline order; each sees Now at its own deadline.
// AfterFunc functions run in the caller's goroutine, without the clock's lock.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.mono + d
	for {
		sort.Slice(c.timers, func(i, j int) bool {
			if c.timers[i].at != c.timers[j].at {
				return c.timers[i].at < c.timers[j].at
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].at > end {
			break
		}
		t := c.timers[0]
		c.mono = max(c.mono, t.at)
		if t.period > 0 {
			t.at += t.period
		} else {
			c.timers = c.timers[1:]
			t.armed = false
		}
		if t.f != nil {
			c.mu.Unlock()
			t.f()
			c.mu.Lock()
			continue
		}
		select {
		case t.ch <- c.nowLocked():
		default: // a slow receiver misses the tick, as with time.Ticker
		}
	}
	c.mono = end
	c.mu.Unlock()
}

// StepWall moves the wall reading by d (either way) and leaves the monotonic
// reading and every timer alone, like a clock step by NTP or date -s.
func (c *Clock) StepWall(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wallBase = c.wallBase.Add(d)
}

// Waiting returns the number of armed timers and tickers: a test waits for
// the code under test to arm its timer before it advances the clock.
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type timer struct {
	c      *Clock
	at     time.Duration // monotonic deadline
	seq    int
	period time.Duration // > 0 for tickers
	f      func()
	ch     chan time.Time
	armed  bool
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.disarmLocked()
}

func (t *timer) disarmLocked() bool {
	if !t.armed {
		return false
	}
	t.armed = false
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			break
		}
	}
	return true
}

func (t *timer) Reset(d time.Duration) bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.disarmLocked()
	if d <= 0 && t.ch != nil && t.period == 0 {
		select {
		case t.ch <- c.nowLocked():
		default:
		}
		return was
	}
	c.seq++
	t.at, t.seq, t.armed = c.mono+max(d, 0), c.seq, true
	c.timers = append(c.timers, t)
	return was
}

type ticker struct{ t *timer }

func (k ticker) C() <-chan time.Time { return k.t.ch }
func (k ticker) Stop()               { k.t.Stop() }
func (k ticker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clocktest: non-positive interval for Ticker.Reset")
	}
	k.t.c.mu.Lock()
	k.t.period = d
	k.t.c.mu.Unlock()
	k.t.Reset(d)
}
