package sched

import (
	"net/netip"
	"sync/atomic"
)

// RoundRobin is a policy that takes the candidates with a positive weight in
// turn, ignoring how large the weight is (IPVS rr).
//
// Like ip_vs_rr.c it remembers the last index picked and continues after it,
// so a quiescent candidate's turn goes to the next one instead of giving its
// neighbour a double share. The zero value starts at index 0.
type RoundRobin struct {
	last atomic.Uint64 // index picked last (mod len(cands)), plus the start offset
}

// Validate reports a weight outside 0..MaxWeight.
func (s *RoundRobin) Validate(cands []Candidate) error { return validateWeights("rr", cands) }

// Pick returns the next candidate after the last one picked whose weight is
// positive, or -1 if there is none.
func (s *RoundRobin) Pick(cands []Candidate, _ netip.Addr) int {
	n := uint64(len(cands))
	if n == 0 {
		return -1
	}
	for {
		last := s.last.Load()
		i := -1
		for k := uint64(1); k <= n; k++ {
			if j := (last + k) % n; cands[j].Weight > 0 {
				i = int(j)
				break
			}
		}
		if i < 0 {
			return -1
		}
		// Lock-free: a racing Pick that moved last first makes us retry,
		// so two concurrent callers never get the same turn.
		if s.last.CompareAndSwap(last, uint64(i)) {
			return i
		}
	}
}
