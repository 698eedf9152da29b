package probe

// InitialState is a target's health before its checks have decided.
type InitialState int

const (
	// StartDown: unhealthy until the first check passes, then healthy
	// (HAProxy's init-state down); if a check fails first, Rise passes in a
	// row are needed as for any unhealthy real. The default: an unchecked real gets no
	// traffic, yet a healthy one is in service after a single interval, and
	// since the balancer runs warm on the standby, its reals are checked long
	// before a takeover needs them.
	StartDown InitialState = iota
	// StartUp: healthy until Fall checks fail in a row (HAProxy's default
	// init-state fully-up, ldirectord's behaviour): no start-up gap, at the
	// risk of sending traffic to a dead real for Fall intervals.
	StartUp
	// StartFullyDown: unhealthy until Rise checks pass in a row.
	StartFullyDown
	// StartUnknown: neither healthy nor unhealthy until Rise passes or Fall
	// failures in a row decide, and that first decision is a change either
	// way (Heartbeat's ping nodes and keepalived's track scripts report
	// their first state). Healthy is false until then; see Known.
	StartUnknown
)

// String returns the config spelling: down, up, fully-down.
func (s InitialState) String() string {
	switch s {
	case StartDown:
		return "down"
	case StartUp:
		return "up"
	case StartFullyDown:
		return "fully-down"
	case StartUnknown:
		return "unknown"
	}
	return "InitialState(?)"
}

// Tracker counts check results into health with rise/fall hysteresis: Rise
// passes in a row make an unhealthy target healthy, Fall failures in a row
// make a healthy one unhealthy (HAProxy's rise/fall, keepalived's
// rise/fall for track scripts). It is pure: no clock, no I/O. It is not
// safe for concurrent use; its loop serialises it.
type Tracker struct {
	rise, fall int
	healthy    bool
	decided    bool // a check has passed or failed enough to decide once
	known      bool // false only while StartUnknown is undecided
	initial    InitialState
	streak     int    // consecutive results agreeing with the last one
	lastOK     bool   // the last result
	reason     string // the last failure, "" after a pass
	checks     uint64
}

// NewTracker returns a tracker; rise and fall below 1 count as 1.
func NewTracker(rise, fall int, initial InitialState) *Tracker {
	return &Tracker{rise: max(rise, 1), fall: max(fall, 1), initial: initial, healthy: initial == StartUp,
		known: initial != StartUnknown, reason: "not checked yet"}
}

// Observe records one check result (nil = passed) and reports whether
// health changed (or, from StartUnknown, was first decided).
func (t *Tracker) Observe(err error) (changed bool) {
	ok := err == nil
	if t.checks == 0 || ok != t.lastOK {
		t.streak = 0
	}
	t.checks++
	t.streak++
	t.lastOK = ok
	if ok {
		t.reason = ""
	} else {
		t.reason = err.Error()
	}
	was := t.healthy
	switch {
	case ok && !t.healthy:
		need := t.rise
		if !t.decided && t.initial == StartDown {
			need = 1
		}
		t.healthy = t.streak >= need
	case !ok && t.healthy:
		t.healthy = t.streak < t.fall
	}
	if t.healthy != was {
		t.decided = true
	}
	if !t.decided && t.initial == StartDown && !ok {
		// A first failure decides too: from now on, recovery needs Rise.
		t.decided = true
	}
	if !t.known && (t.healthy || t.streak >= t.fall) {
		t.known, t.decided = true, true
		return true
	}
	return t.healthy != was
}

// Known reports whether health is decided: always, except from
// StartUnknown before the first decision.
func (t *Tracker) Known() bool { return t.known }

// Streak returns how many results in a row agree with the last one.
func (t *Tracker) Streak() int { return t.streak }

// Healthy reports whether the target should get traffic.
func (t *Tracker) Healthy() bool { return t.healthy }

// Reason returns the last failure's reason ("negotiate: status 503, want
// 200"), "not checked yet" before the first check, or "" once the last check
// passed. A healthy target can have a reason: it is failing but not Fall
// times yet.
func (t *Tracker) Reason() string { return t.reason }

// SetThresholds changes rise and fall (on reload) without losing health.
func (t *Tracker) SetThresholds(rise, fall int) { t.rise, t.fall = max(rise, 1), max(fall, 1) }
