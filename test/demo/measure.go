package main

import (
	"fmt"
	"time"

	"github.com/hapair/hapair/test/lab/probe"
)

// move is what one move of the VIP cost, measured from the event (the kill,
// the standby command).
type move struct {
	Bound   time.Duration // until the new owner had the VIP bound
	Served  time.Duration // until the client's first answer after the outage the event caused; 0 = no outage
	Took    time.Duration // the later of the two: the take-over time
	Sent    int           // the client's probes across the event
	Failed  int
	Front   int // probes that failed before the event (should be 0)
	Longest time.Duration
	// Stall is the longest gap between two attempts' starts. The loop
	// starts one every interval; a much longer gap means the client was not
	// scheduled (a busy machine) and saw less than there was to see.
	Stall time.Duration
}

// measure computes a move from the event time, the time the new owner bound
// the VIP, and the client's probes across the event. It fails when the probe
// did not straddle the event or the client never got an answer again.
func measure(event, bound time.Time, res *probe.Result) (move, error) {
	m := move{Bound: bound.Sub(event), Sent: res.Sent, Failed: res.Failed, Longest: res.Longest}
	var before, after int
	for i, a := range res.Attempts {
		if i > 0 {
			m.Stall = max(m.Stall, a.Start.Sub(res.Attempts[i-1].Start))
		}
		if a.Start.Before(event) {
			before++
			if !a.OK && a.Start.Add(a.Took).Before(event) {
				m.Front++
			}
		} else {
			after++
		}
	}
	if before == 0 || after == 0 {
		return m, fmt.Errorf("the client's %d probes did not straddle the event (%d before, %d after)", res.Sent, before, after)
	}
	for _, o := range res.Outages {
		if !o.End.After(event) {
			continue // over before the event: not ours
		}
		if o.Open {
			return m, fmt.Errorf("the client got no answer after the event: its last %d probes failed", o.Failed)
		}
		for _, a := range res.Attempts {
			if a.OK && !a.Start.Before(o.End) {
				m.Served = a.Start.Add(a.Took).Sub(event)
				break
			}
		}
		break
	}
	m.Took = max(m.Bound, m.Served)
	return m, nil
}

func ms(d time.Duration) int64 { return d.Round(time.Millisecond).Milliseconds() }
