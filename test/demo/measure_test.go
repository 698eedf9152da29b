package main

import (
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/test/lab/probe"
)

// attempts makes one probe every 10ms from t0, each taking 2ms, failing
// where fail says (by index).
func attempts(t0 time.Time, n int, fail func(i int) bool) *probe.Result {
	var as []probe.Attempt
	r := &probe.Result{Sent: n}
	for i := range n {
		a := probe.Attempt{Seq: i, Start: t0.Add(time.Duration(i) * 10 * time.Millisecond), Took: 2 * time.Millisecond, OK: !fail(i)}
		if !a.OK {
			r.Failed++
		}
		as = append(as, a)
	}
	r.Attempts, r.Outages = as, probe.Outages(as)
	for _, o := range r.Outages {
		r.Longest = max(r.Longest, o.Length)
	}
	return r
}

func TestMeasure(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, tc := range []struct {
		name          string
		event, bound  time.Time
		res           *probe.Result
		took, served  time.Duration
		failed, front int
		stall         time.Duration
		wantErr       string
	}{
		{
			name:  "crash: outage from 105ms to 300ms, VIP bound at 280ms",
			event: at(105), bound: at(280),
			res:  attempts(t0, 50, func(i int) bool { return i >= 11 && i < 30 }),
			took: 197 * time.Millisecond, served: 197 * time.Millisecond, failed: 19,
			stall: 10 * time.Millisecond,
		},
		{
			name:  "a stalled client: no probe from 100ms to 400ms",
			event: at(105), bound: at(280),
			res: func() *probe.Result {
				r := attempts(t0, 50, func(i int) bool { return i == 10 })
				for i := 10; i < 50; i++ {
					r.Attempts[i].Start = r.Attempts[i].Start.Add(300 * time.Millisecond)
				}
				r.Outages = probe.Outages(r.Attempts)
				return r
			}(),
			took: 307 * time.Millisecond, served: 307 * time.Millisecond, failed: 1,
			stall: 310 * time.Millisecond,
		},
		{
			name:  "VIP bound after the client's first answer: took is the bind",
			event: at(105), bound: at(350),
			res:  attempts(t0, 50, func(i int) bool { return i >= 11 && i < 30 }),
			took: 245 * time.Millisecond, served: 197 * time.Millisecond, failed: 19,
		},
		{
			name:  "planned switchover without a failed probe",
			event: at(105), bound: at(113),
			res:  attempts(t0, 50, func(int) bool { return false }),
			took: 8 * time.Millisecond,
		},
		{
			name:  "an outage over before the event is not the event's, but counts as front",
			event: at(305), bound: at(313),
			res:  attempts(t0, 50, func(i int) bool { return i == 3 }),
			took: 8 * time.Millisecond, failed: 1, front: 1,
		},
		{
			name:  "no answer after the event",
			event: at(105), bound: at(200),
			res:     attempts(t0, 50, func(i int) bool { return i >= 11 }),
			wantErr: "no answer after the event: its last 39 probes failed",
		},
		{
			name:  "probe over before the event",
			event: at(1000), bound: at(1100),
			res:     attempts(t0, 50, func(int) bool { return false }),
			wantErr: "did not straddle the event (50 before, 0 after)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := measure(tc.event, tc.bound, tc.res)
			if testkit.WantError(t, "measure()", err, tc.wantErr) {
				return
			}
			if m.Took != tc.took || m.Served != tc.served || m.Failed != tc.failed || m.Front != tc.front {
				t.Errorf("measure() = took %v served %v failed %d front %d, want %v %v %d %d",
					m.Took, m.Served, m.Failed, m.Front, tc.took, tc.served, tc.failed, tc.front)
			}
			if tc.stall != 0 && m.Stall != tc.stall {
				t.Errorf("measure().Stall = %v, want %v", m.Stall, tc.stall)
			}
		})
	}
}
