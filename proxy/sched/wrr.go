package sched

import (
	"net/netip"
	"sync"
)

// WeightedRoundRobin is a policy that takes the candidates in turn in
// proportion to their weights, spreading each candidate's turns evenly (nginx's
// smooth weighted round robin, ngx_http_upstream_get_peer).
//
// It differs from IPVS wrr, which sends bursts to the heaviest real (weights
// 5,1,1 give a a a a a b c); the smooth sequence is a a b a c a a, the same
// shares with no bursts. The zero value is ready to use.
type WeightedRoundRobin struct {
	mu  sync.Mutex
	cur []int64 // current weight per candidate index; reset when len changes
}

// Validate reports a weight outside 0..MaxWeight.
func (s *WeightedRoundRobin) Validate(cands []Candidate) error {
	return validateWeights("wrr", cands)
}

// Pick adds each candidate's weight to its current weight, picks the largest
// current weight (the first on a tie) and subtracts the total weight from it.
func (s *WeightedRoundRobin) Pick(cands []Candidate, _ netip.Addr) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) != len(cands) {
		s.cur = make([]int64, len(cands))
	}
	best, total := -1, int64(0)
	for i, c := range cands {
		if c.Weight <= 0 {
			s.cur[i] = 0 // a real that comes back starts afresh
			continue
		}
		w := int64(c.Weight)
		s.cur[i] += w
		total += w
		if best < 0 || s.cur[i] > s.cur[best] {
			best = i
		}
	}
	if best >= 0 {
		s.cur[best] -= total
	}
	return best
}
