package probe

import (
	"testing"
	"time"
)

func TestCheckTiming(t *testing.T) {
	for _, c := range []struct {
		interval, timeout time.Duration
		key, err          string
	}{
		{2 * time.Second, time.Second, "", ""},
		{MinInterval, MinTimeout, "", ""},
		{time.Nanosecond, time.Nanosecond, "interval", "1ns is shorter than 10ms, the shortest probe interval: each run costs a connection or a process"},
		{time.Second, time.Microsecond, "timeout", "1µs is shorter than 1ms: no check, ping or program completes that fast"},
		{time.Second, 2 * time.Second, "timeout", "2s is longer than interval 1s: why"},
	} {
		key, err := CheckTiming(c.interval, c.timeout, "why")
		got := ""
		if err != nil {
			got = err.Error()
		}
		if key != c.key || got != c.err {
			t.Errorf("CheckTiming(%v, %v) = %q, %q; want %q, %q", c.interval, c.timeout, key, got, c.key, c.err)
		}
	}
}
