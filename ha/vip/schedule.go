package vip

import (
	"errors"
	"fmt"
	"time"
)

// Schedule says when a VIP is announced after a takeover. Every send time
// is an offset from the takeover, so the whole plan is a pure function of
// (takeover time, now): see Due. Zero fields take the defaults.
type Schedule struct {
	// Count is the number of announcements in the first burst (default 5,
	// Heartbeat send_arp's -r 5). The first is sent at the takeover itself.
	Count int
	// Interval separates announcements within a burst (default 200ms,
	// Heartbeat send_arp's -i 200: spread enough to survive a lost frame,
	// short enough to finish before a client's first retransmit).
	Interval time.Duration
	// SecondDelay is the time from the takeover to a second burst (default
	// 5s, keepalived's vrrp_garp_master_delay), for switches and hosts that
	// missed the first one, e.g. a port still in STP learning. Negative
	// disables the second burst.
	SecondDelay time.Duration
	// SecondCount is the size of the second burst (default Count).
	SecondCount int
	// Refresh, when positive, repeats one announcement this often after the
	// bursts for as long as the VIP is held (keepalived's
	// vrrp_garp_master_refresh); default 0, off.
	Refresh time.Duration
}

// DefaultSchedule is the schedule used for the zero Schedule.
var DefaultSchedule = Schedule{Count: 5, Interval: 200 * time.Millisecond, SecondDelay: 5 * time.Second, SecondCount: 5}

// WithDefaults fills zero fields from DefaultSchedule.
func (s Schedule) WithDefaults() Schedule {
	if s.Count == 0 {
		s.Count = DefaultSchedule.Count
	}
	if s.Interval == 0 {
		s.Interval = DefaultSchedule.Interval
	}
	if s.SecondDelay == 0 {
		s.SecondDelay = DefaultSchedule.SecondDelay
	}
	if s.SecondCount == 0 {
		s.SecondCount = s.Count
	}
	return s
}

// Validate rejects schedules that cannot be followed. Call it on a schedule
// with defaults filled in.
func (s Schedule) Validate() error {
	switch {
	case s.Count < 1:
		return fmt.Errorf("vip: garp count %d: must be at least 1", s.Count)
	case s.Count > 100 || s.SecondCount > 100:
		return fmt.Errorf("vip: garp count %d/%d: more than 100 per burst floods the LAN", s.Count, s.SecondCount)
	case s.Interval < 0:
		return fmt.Errorf("vip: garp interval %v: must not be negative", s.Interval)
	case s.Refresh < 0:
		return fmt.Errorf("vip: garp refresh %v: must not be negative", s.Refresh)
	case s.Refresh > 0 && s.Refresh < 100*time.Millisecond:
		return errors.New("vip: garp refresh " + s.Refresh.String() + ": must be at least 100ms")
	case s.secondBurst() && s.SecondDelay <= time.Duration(s.Count-1)*s.Interval:
		return fmt.Errorf("vip: garp second burst delay %v: must be after the first burst ends (%v)", s.SecondDelay, time.Duration(s.Count-1)*s.Interval)
	}
	return nil
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
