// Package clock is the one time source of hapair's shells and adapters: a
// six-method Clock interface (after tailscale's tstime.Clock), the real
// implementation Real, and the contract every implementation keeps. The fake
// for tests is clocktest.Clock.
//
// Contract: durations are measured on the monotonic clock. Times returned by
// Now carry a monotonic reading, as time.Now's do, so t2.Sub(t1), Since(t1),
// Before and After follow elapsed time even when the wall clock is stepped
// (NTP, an operator's date -s). Timers and tickers run on monotonic time too.
// Code that needs a duration must take it from Since or Sub of two times from
// the same Clock, never from Unix or UnixNano, which are wall readings.
//
// Pure packages (ha, proxy/persist, ...) never hold a Clock: they take time
// as an input (ha.Event.Now, a now parameter) from the shell that does.
package clock

import "time"

// Clock is a source of time and timers. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time, with a monotonic reading.
	Now() time.Time
	// Since returns the monotonic time elapsed since t (t from Now).
	Since(t time.Time) time.Duration
	// After returns a channel that receives the time once d has elapsed.
	After(d time.Duration) <-chan time.Time
	// AfterFunc calls f once d has elapsed, in its own goroutine (Real) or
	// in the goroutine that advances the fake. The Timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTimer returns a Timer that sends the time on C once d has elapsed.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a Ticker that sends the time on C every d (d > 0),
	// dropping ticks a slow receiver misses, like time.Ticker.
	NewTicker(d time.Duration) Ticker
}

// Timer is a stoppable one-shot timer, like *time.Timer.
type Timer interface {
	// C is the channel the time is sent on; nil for AfterFunc timers.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped
	// the timer (false when it had already fired or been stopped).
	Stop() bool
	// Reset rearms the timer to fire after d; it reports whether the
	// timer was active.
	Reset(d time.Duration) bool
}

// Ticker is a periodic timer, like *time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}

// Real is the system clock. The zero value is ready to use.
type Real struct{}

var _ Clock = Real{}

// Or returns c, or Real when c is nil: the default of every Clock field.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

func (Real) Now() time.Time                         { return time.Now() }
func (Real) Since(t time.Time) time.Duration        { return time.Since(t) }
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (Real) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}
func (Real) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time   { return r.t.C }
func (r realTicker) Stop()                 { r.t.Stop() }
func (r realTicker) Reset(d time.Duration) { r.t.Reset(d) }
