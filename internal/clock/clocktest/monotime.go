package clocktest

import (
	"fmt"
	"time"
	"unsafe"
)

// The standard library makes times with a monotonic reading only in
// time.Now, and t.Add moves both readings together; a fake whose wall clock
// steps without moving monotonic time must therefore write the reading
// itself. rawTime mirrors time.Time's layout (time/time.go: a wall word
// holding the hasMonotonic flag, 33 bits of seconds since 1885 and 30 bits of
// nanoseconds, then ext holding the monotonic reading, then loc). init checks
// the mirror against the time package's own arithmetic and panics, failing
// every test that uses the fake, if a Go release changes it.
type rawTime struct {
	wall uint64
	ext  int64
	loc  *time.Location
}

const (
	hasMonotonic = 1 << 63
	nsecShift    = 30
	secsMask     = 1<<33 - 1
)

// template is a real reading with a monotonic clock: the fake's readings are
// offsets from it, so only their differences mean anything.
var template = time.Now()

// withMono returns a time whose wall reading is wall and whose monotonic
// reading is mono past the template's. Wall times outside the years
// 1885-2157 cannot carry a monotonic reading (nor can time.Now's): they come
// back without one.
func withMono(wall time.Time, mono time.Duration) time.Time {
	r := *(*rawTime)(unsafe.Pointer(&template))
	secs := int64(r.wall<<1>>(nsecShift+1)) + wall.Unix() - template.Unix()
	if secs < 0 || secs > secsMask {
		return wall.Round(0)
	}
	r.wall = hasMonotonic | uint64(secs)<<nsecShift | uint64(wall.Nanosecond())
	r.ext += int64(mono)
	r.loc = (*rawTime)(unsafe.Pointer(&wall)).loc
	return *(*time.Time)(unsafe.Pointer(&r))
}

func init() {
	if r := (*rawTime)(unsafe.Pointer(&template)); r.wall&hasMonotonic == 0 {
		panic("clocktest: time.Now has no monotonic reading; the time.Time layout changed")
	}
	w := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	a, b := withMono(w, time.Second), withMono(w.Add(-time.Hour), 3*time.Second)
	if !a.Round(0).Equal(w) || !b.Round(0).Equal(w.Add(-time.Hour)) || b.Sub(a) != 2*time.Second ||
		!b.After(a) || a.Location() != time.UTC {
		panic(fmt.Sprintf("clocktest: the time.Time layout changed (a=%v b=%v b-a=%v)", a, b, b.Sub(a)))
	}
}
