package nft

import (
	"net/netip"

	"github.com/hapair/hapair/proxy/sched"
)

// wrrSlots returns the scheduler's slot table: slot i of the numgen (rr,
// wrr) or jhash (sh) result goes to reals[wrrSlots[i]]. Only schedulable
// reals get slots. wrr and sh give each real weight/gcd slots, interleaved
// in proxy/sched's smooth wrr order, so a run of new connections is spread
// rather than sent in blocks (IPVS's wrr sends bursts to the heaviest real;
// the shares are the same); IPVS's sh also weights its buckets. rr ignores weights above 0, as IPVS's rr does.
func wrrSlots(reals []Real) []int {
	var idx []int
	var cands []sched.Candidate
	g := 0
	for i, r := range reals {
		if r.schedulable() {
			idx = append(idx, i)
			cands = append(cands, sched.Candidate{Weight: r.Weight})
			g = gcd(g, r.Weight)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	total := 0
	for i := range cands {
		cands[i].Weight /= g
		total += cands[i].Weight
	}
	if total > MaxSlots {
		return make([]int, total) // only the length is read: Validate rejects it
	}
	// A fresh scheduler: the order is a pure function of the weights, so
	// an Apply with unchanged weights rewrites the same map.
	var s sched.WeightedRoundRobin
	out := make([]int, 0, total)
	for range total {
		out = append(out, idx[s.Pick(cands, netip.Addr{})])
	}
	return out
}

// Weighted reports whether scheduler's slot map is weighted, and so must
// fit its weights in MaxSlots (WRRSlotCount): wrr and sh give each real
// weight/gcd slots (IPVS's sh weights its buckets too); rr gives each
// schedulable real one slot, as IPVS's rr ignores weights above 0.
func Weighted(scheduler string) bool { return scheduler != "rr" }

// WRRSlotCount is how many slots wrr needs for reals of these weights
// with every real up: the positive weights' sum over their greatest
// common divisor. Any subset of them (reals down) needs no more, so a
// service within MaxSlots here stays within it under every health state.
func WRRSlotCount(weights []int) int {
	g, total := 0, 0
	for _, w := range weights {
		if w > 0 {
			g = gcd(g, w)
			total += w
		}
	}
	if g == 0 {
		return 0
	}
	return total / g
}

func rrSlots(reals []Real) []int {
	var out []int
	for i, r := range reals {
		if r.schedulable() {
			out = append(out, i)
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
