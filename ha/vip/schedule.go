package vip

import (
	"errors"
	"time"

	"github.com/hapair/hapair/internal/field"
)

// Schedule says when a VIP is announced after a takeover. Every send time
// is an offset from the takeover, so the whole plan is a pure function of
// (takeover time, now): see Due. The zero Schedule means DefaultSchedule;
// otherwise every field is taken as written (0 is "none" or "back to back").
type Schedule struct {
	// Count is the number of announcements in the first burst (default 5,
	// Heartbeat send_arp's -r 5 and IPaddr2's ARP_REPEAT: one lost frame must
	// not leave a switch pointing at the old owner). The first is sent at the
	// takeover itself. 1..MaxBurst.
	Count int
	// Interval separates announcements within a burst (default 200ms,
	// Heartbeat send_arp's -i 200: spread enough to survive a lost frame,
	// short enough to finish before a client's first retransmit); 0 sends
	// the burst back to back.
	Interval time.Duration
	// SecondDelay is the time from the takeover to a second burst (default
	// 5s, keepalived's vrrp_garp_master_delay), for switches and hosts that
	// missed the first one, e.g. a port still in STP learning. 0: no second
	// burst.
	SecondDelay time.Duration
	// SecondCount is the size of the second burst (0: Count).
	SecondCount int
	// Refresh, when positive, repeats one announcement this often after the
	// bursts for as long as the VIP is held (keepalived's
	// vrrp_garp_master_refresh); default 0, off. At least MinRefresh.
	Refresh time.Duration
}

// DefaultSchedule is the schedule used for the zero Schedule.
var DefaultSchedule = Schedule{Count: 5, Interval: 200 * time.Millisecond, SecondDelay: 5 * time.Second, SecondCount: 5}

// Limits of a Schedule.
const (
	MaxBurst   = 100                    // announcements per burst: more floods the LAN
	MinRefresh = 100 * time.Millisecond // a faster refresh is a flood, not a reminder
)

// WithDefaults returns DefaultSchedule for the zero Schedule, and s with
// SecondCount set to Count when it is 0 otherwise.
func (s Schedule) WithDefaults() Schedule {
	if s == (Schedule{}) {
		return DefaultSchedule
	}
	if s.SecondCount == 0 {
		s.SecondCount = s.Count
	}
	return s
}

// Validate reports every problem in s (after WithDefaults) as *field.Error
// values naming keepalived-style keys: "count", "interval", "second_burst",
// "refresh".
func (s Schedule) Validate() error {
	s = s.WithDefaults()
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, field.Errorf(path, format, args...)) }
	switch {
	case s.Count < 1 || s.SecondCount < 0:
		bad("count", "%d is out of range 1..%d: a burst needs at least one announcement", s.Count, MaxBurst)
	case s.Count > MaxBurst || s.SecondCount > MaxBurst:
		bad("count", "%d is out of range 1..%d: more per burst floods the LAN", max(s.Count, s.SecondCount), MaxBurst)
	}
	if s.Interval < 0 {
		bad("interval", "%v: must not be negative", s.Interval)
	}
	switch {
	case s.Refresh < 0:
		bad("refresh", "%v: must not be negative", s.Refresh)
	case s.Refresh > 0 && s.Refresh < MinRefresh:
		bad("refresh", "%v: must be 0 (off) or at least %v", s.Refresh, MinRefresh)
	}
	switch end := time.Duration(s.Count-1) * s.Interval; {
	case s.SecondDelay < 0:
		bad("second_burst", "%v: must not be negative (0 turns the second burst off)", s.SecondDelay)
	case s.secondBurst() && s.SecondDelay <= end:
		bad("second_burst", "%v must be after the first burst ends (%v)", s.SecondDelay, end)
	}
	return errors.Join(errs...)
}

func (s Schedule) secondBurst() bool { return s.SecondDelay > 0 && s.SecondCount > 0 }

// bursts is the number of announcements in the bursts, before any refresh.
func (s Schedule) bursts() int {
	if s.secondBurst() {
		return s.Count + s.SecondCount
	}
	return s.Count
}

// Offset returns when announcement k (0-based) is due after the takeover,
// and false when there is no such announcement.
func (s Schedule) Offset(k int) (time.Duration, bool) {
	switch {
	case k < 0:
		return 0, false
	case k < s.Count:
		return time.Duration(k) * s.Interval, true
	case k < s.bursts():
		return s.SecondDelay + time.Duration(k-s.Count)*s.Interval, true
	case s.Refresh > 0:
		last, _ := s.Offset(s.bursts() - 1)
		return last + time.Duration(k-s.bursts()+1)*s.Refresh, true
	}
	return 0, false
}

// Due reports how many announcements from index sent on are due at now
// for a takeover at takeover, and when the next one after those is due
// (more is false when none is left). A caller that wakes late sends once
// for all due announcements: back-to-back copies add nothing.
func (s Schedule) Due(takeover, now time.Time, sent int) (due int, next time.Time, more bool) {
	elapsed := now.Sub(takeover)
	for k := sent; ; {
		off, ok := s.Offset(k)
		if !ok {
			return due, time.Time{}, false
		}
		if off > elapsed {
			return due, takeover.Add(off), true
		}
		if k >= s.bursts() {
			// In the refresh phase: skip whole periods arithmetically so a
			// long stall costs no loop.
			n := int((elapsed - off) / s.Refresh)
			k, due = k+n, due+n
		}
		k, due = k+1, due+1
	}
}
