package ping

import "fmt"

// Tracker counts consecutive results, rise/fall style. It is pure; the zero
// value is not ready: use NewTracker.
//
// The state starts unknown: Rise successes in a row make it up, Fall
// failures in a row make it down, and each change is reported once.
type Tracker struct {
	name       string
	rise, fall int
	known, ok  bool
	succ, fail int
}

// NewTracker returns a tracker for the check called name (used in reasons).
func NewTracker(name string, rise, fall int) *Tracker {
	return &Tracker{name: name, rise: max(rise, 1), fall: max(fall, 1)}
}

// Observe records one probe result. It returns changed = true with the new
// state and its reason when the state flips (or first becomes known).
func (t *Tracker) Observe(err error) (changed, ok bool, reason string) {
	if err == nil {
		t.succ, t.fail = t.succ+1, 0
		if (!t.known || !t.ok) && t.succ >= t.rise {
			t.known, t.ok = true, true
			if t.rise == 1 {
				return true, true, t.name + ": ok"
			}
			return true, true, fmt.Sprintf("%s: ok %d times in a row", t.name, t.succ)
		}
		return false, t.ok, ""
	}
	t.succ, t.fail = 0, t.fail+1
	if (!t.known || t.ok) && t.fail >= t.fall {
		t.known, t.ok = true, false
		if t.fall == 1 {
			return true, false, fmt.Sprintf("%s: failed: %v", t.name, err)
		}
		return true, false, fmt.Sprintf("%s: failed %d times in a row, last: %v", t.name, t.fail, err)
	}
	return false, t.ok, ""
}

// State reports whether the state is known and whether it is up.
func (t *Tracker) State() (known, ok bool) { return t.known, t.ok }
