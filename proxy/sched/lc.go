package sched

import (
	"math/bits"
	"net/netip"
	"sync/atomic"
)

// LeastConn is a policy that picks the candidate with the fewest active
// connections among those with a positive weight (IPVS lc, on active
// connections only).
//
// IPVS breaks ties by list order, which sends every connection of a quiet
// period to the first real; here ties rotate: the scan starts one index later
// on each Pick, from an offset drawn from New's rng. The zero value starts at 0.
type LeastConn struct {
	rotation
}

// Validate reports a weight outside 0..MaxWeight.
func (s *LeastConn) Validate(cands []Candidate) error { return validateWeights("lc", cands) }

// Pick returns the candidate with the fewest active connections, or -1.
func (s *LeastConn) Pick(cands []Candidate, _ netip.Addr) int {
	return s.pickLeast(cands, func(x, y Candidate) bool { return max(x.Active, 0) < max(y.Active, 0) })
}

// WeightedLeastConn is a policy that picks the candidate with the lowest
// active connections per unit of weight (IPVS wlc).
//
// ip_vs_wlc.c compares overhead/weight with overhead = active*256 + inactive;
// hapair counts no inactive (TIME_WAIT-like) connections, so overhead is
// Active. Like IPVS it compares by cross-multiplication (a1*w2 < a2*w1), here
// in 128 bits so no count can overflow. Ties rotate as in LeastConn.
type WeightedLeastConn struct {
	rotation
}

// Validate reports a weight outside 0..MaxWeight.
func (s *WeightedLeastConn) Validate(cands []Candidate) error {
	return validateWeights("wlc", cands)
}

// Pick returns the candidate with the lowest Active/Weight, or -1.
func (s *WeightedLeastConn) Pick(cands []Candidate, _ netip.Addr) int {
	return s.pickLeast(cands, func(x, y Candidate) bool {
		return less128(uint64(max(x.Active, 0)), uint64(y.Weight), uint64(max(y.Active, 0)), uint64(x.Weight))
	})
}

// rotation is the tie-breaking of lc and wlc: each Pick scans from one
// index later than the last, from an offset drawn from New's rng. The zero
// value starts at 0.
type rotation struct {
	start atomic.Uint64
}

// pickLeast returns the candidate with a positive weight that less orders
// first, scanning i+1, i+2, ... wrapping once so that ties rotate, or -1
// when no weight is positive.
func (r *rotation) pickLeast(cands []Candidate, less func(x, y Candidate) bool) int {
	n := uint64(len(cands))
	if n == 0 {
		return -1
	}
	i := int(r.start.Add(1) % n)
	best := -1
	for range n {
		if i++; i == int(n) {
			i = 0
		}
		if cands[i].Weight > 0 && (best < 0 || less(cands[i], cands[best])) {
			best = i
		}
	}
	return best
}

// less128 reports whether x1*x2 < y1*y2 without overflow.
func less128(x1, x2, y1, y2 uint64) bool {
	xh, xl := bits.Mul64(x1, x2)
	yh, yl := bits.Mul64(y1, y2)
	return xh < yh || (xh == yh && xl < yl)
}
