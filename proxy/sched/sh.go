package sched

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

// SourceHash is a policy that maps each client address to a candidate through
// a lookup table in which each candidate owns slots in proportion to its
// weight (IPVS sh), so a client keeps its real while the weights are unchanged.
//
// ip_vs_sh.c fills 256 buckets giving each real `weight` consecutive buckets
// in turn, so weights only count up to 256 in total and removing a real
// reshuffles most clients. Here the table has shTableSize slots filled
// Maglev-style (Eisenbud et al., NSDI 2016): candidates take turns in smooth
// weighted round robin order, each taking the next free slot of its own
// fixed permutation, so shares follow the weights to within one slot
// (0.025%), and when one real is quiesced mostly only its own clients move.
//
// The hash uses no secret and no RNG on purpose: both balancers of a pair map
// a client to the same real, as IPVS does, so a failover keeps sh clients on
// their reals even without persistence sync. The zero value is ready to use.
type SourceHash struct {
	mu    sync.Mutex // serialises table builds
	table atomic.Pointer[shTable]
}

// shTableSize is prime, as Maglev needs for every skip to visit every slot;
// it bounds the number of candidates with a positive weight.
const shTableSize = 4093

type shTable struct {
	weights []int // the weights the table was built for
	slot    [shTableSize]int32
}

// Validate reports a weight outside 0..MaxWeight and more positive-weight
// candidates than the table has slots.
func (s *SourceHash) Validate(cands []Candidate) error {
	if err := validateWeights("sh", cands); err != nil {
		return err
	}
	n := 0
	for _, c := range cands {
		if c.Weight > 0 {
			n++
		}
	}
	if n > shTableSize {
		return fmt.Errorf("sched: sh: %d candidates with a positive weight, at most %d", n, shTableSize)
	}
	return nil
}

// Pick returns the candidate that owns client's slot, or -1.
func (s *SourceHash) Pick(cands []Candidate, client netip.Addr) int {
	t := s.table.Load()
	if t == nil || !sameWeights(t.weights, cands) {
		t = s.rebuild(cands)
		if t == nil {
			return -1
		}
	}
	return int(t.slot[hashAddr(client)%shTableSize])
}

func sameWeights(w []int, cands []Candidate) bool {
	if len(w) != len(cands) {
		return false
	}
	for i, c := range cands {
		if w[i] != max(c.Weight, 0) {
			return false
		}
	}
	return true
}

// rebuild returns the table for cands' weights, building it unless a racing
// Pick just did; nil means no candidate has a positive weight.
func (s *SourceHash) rebuild(cands []Candidate) *shTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.table.Load(); t != nil && sameWeights(t.weights, cands) {
		return tableOrNil(t)
	}
	t := &shTable{weights: make([]int, len(cands))}
	for i, c := range cands {
		t.weights[i] = max(c.Weight, 0)
	}
	fillMaglev(&t.slot, t.weights)
	s.table.Store(t)
	return tableOrNil(t)
}

func tableOrNil(t *shTable) *shTable {
	if t.slot[0] < 0 {
		return nil
	}
	return t
}

// fillMaglev fills slot from weights; all -1 when no weight is positive.
func fillMaglev(slot *[shTableSize]int32, weights []int) {
	type turn struct {
		idx             int32
		off, skip, next uint64
		w, cur          int64
	}
	var ts []turn
	for i, w := range weights {
		if w > 0 && len(ts) < shTableSize {
			h1, h2 := mix64(uint64(i)*2+1), mix64(uint64(i)*2+2)
			ts = append(ts, turn{idx: int32(i), off: h1 % shTableSize, skip: h2%(shTableSize-1) + 1, w: int64(w)})
		}
	}
	for i := range slot {
		slot[i] = -1
	}
	if len(ts) == 0 {
		return
	}
	for filled := 0; filled < shTableSize; filled++ {
		// Whose turn: smooth weighted round robin over the candidates.
		best, total := 0, int64(0)
		for j := range ts {
			ts[j].cur += ts[j].w
			total += ts[j].w
			if ts[j].cur > ts[best].cur {
				best = j
			}
		}
		t := &ts[best]
		t.cur -= total
		for {
			p := (t.off + t.next*t.skip) % shTableSize
			t.next++
			if slot[p] < 0 {
				slot[p] = t.idx
				break
			}
		}
	}
}

// hashAddr hashes the client address; an IPv4-mapped IPv6 address hashes like
// the IPv4 address, and the zone is ignored.
func hashAddr(a netip.Addr) uint64 {
	b := a.Unmap().As16()
	var hi, lo uint64
	for _, x := range b[:8] {
		hi = hi<<8 | uint64(x)
	}
	for _, x := range b[8:] {
		lo = lo<<8 | uint64(x)
	}
	return mix64(hi ^ mix64(lo))
}

// mix64 is the splitmix64 finaliser: a fixed, well-spread bijection.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
