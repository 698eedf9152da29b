package probe

import (
	"fmt"
	"time"
)

// MinInterval is the shortest time between two runs of one probe (a
// health check, ping node, track script or monitor) that hapair takes.
// Each run costs a socket or a process: "1ns" would start them back to
// back and spend the CPU the heartbeats need. 10 ms is below every
// interval in HAProxy's (`inter`), keepalived's (delay_loop) and
// ldirectord's (checkinterval) documentation.
const MinInterval = 10 * time.Millisecond

// MinTimeout is the shortest bound on one run: under a millisecond not
// even a loopback TCP handshake or an exec completes on a loaded host, so
// every run would fail.
const MinTimeout = time.Millisecond

// CheckTiming reports what is wrong with a probe's interval and timeout
// (both set, after defaults; negative and zero values are the caller's to
// refuse as not durations). key is "interval" or "timeout", the setting at
// fault, for the caller's key path. why completes "timeout is longer than
// interval: ..." for this kind of probe: runs never overlap (Loop), so a
// run that outlives the interval stretches the interval itself.
func CheckTiming(interval, timeout time.Duration, why string) (key string, err error) {
	switch {
	case interval < MinInterval:
		return "interval", fmt.Errorf("%v is shorter than %v, the shortest probe interval: each run costs a connection or a process", interval, MinInterval)
	case timeout < MinTimeout:
		return "timeout", fmt.Errorf("%v is shorter than %v: no check, ping or program completes that fast", timeout, MinTimeout)
	case timeout > interval:
		return "timeout", fmt.Errorf("%v is longer than interval %v: %s", timeout, interval, why)
	}
	return "", nil
}
