package sched

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
)

// Candidate is one real server as a scheduler sees it.
type Candidate struct {
	// Weight is the real's relative capacity, 0..MaxWeight. 0 means quiescent:
	// never picked (ldirectord quiescent=yes, ipvsadm -w 0, a drained real).
	Weight int
	// Active is the number of connections the real has open now; lc and wlc
	// read it, the other schedulers ignore it. Negative counts as 0.
	Active int64
}

// MaxWeight is the largest weight accepted by Validate, as in ipvsadm(8)
// ("-w weight ... an integer in the range 0 to 65535").
const MaxWeight = 65535

// CheckWeight reports a real's weight outside 0..MaxWeight. It owns the
// rule and its wording, "70000 is out of range 0..65535", for every place
// that takes a weight: the config, Validate and the importer.
func CheckWeight(w int) error {
	if w < 0 || w > MaxWeight {
		return fmt.Errorf("%d is out of range 0..%d", w, MaxWeight)
	}
	return nil
}

// Scheduler picks a candidate for a new connection.
type Scheduler interface {
	// Pick returns the index of the chosen candidate, or -1 when none has
	// Weight > 0. client is used by "sh". Safe for concurrent use.
	Pick(cands []Candidate, client netip.Addr) int
}

// Validator is implemented by every scheduler in this package.
type Validator interface {
	// Validate reports the first problem in cands for this scheduler, or nil.
	Validate(cands []Candidate) error
}

// policy is what every scheduler in this package implements.
type policy interface {
	Scheduler
	Validator
}

// schedulers is every scheduler New accepts, in the order DESIGN.md gives
// them, with its constructor; off is the start offset of rr's and lc/wlc's
// rotation.
var schedulers = []struct {
	name string
	new  func(off uint64) policy
}{
	{"rr", func(off uint64) policy {
		s := &RoundRobin{}
		s.last.Store(off)
		return s
	}},
	{"wrr", func(uint64) policy { return &WeightedRoundRobin{} }},
	{"lc", func(off uint64) policy {
		s := &LeastConn{}
		s.start.Store(off)
		return s
	}},
	{"wlc", func(off uint64) policy {
		s := &WeightedLeastConn{}
		s.start.Store(off)
		return s
	}},
	{"sh", func(uint64) policy { return &SourceHash{} }},
}

// Names returns the scheduler names New accepts: rr wrr lc wlc sh.
func Names() []string {
	out := make([]string, len(schedulers))
	for i, s := range schedulers {
		out[i] = s.name
	}
	return out
}

// haproxyBalance maps HAProxy's balance algorithms (HAProxy configuration
// manual, "balance") onto the scheduler names New takes. HAProxy's
// roundrobin, static-rr and leastconn honour server weights, so they are
// the weighted IPVS schedulers.
var haproxyBalance = map[string]string{"roundrobin": "wrr", "static-rr": "wrr", "leastconn": "wlc", "source": "sh"}

// FromHAProxy returns the scheduler name for HAProxy's balance algorithm
// balance ("leastconn" is "wlc"), and false for any other word: a hint
// for users who write HAProxy's names.
func FromHAProxy(balance string) (string, bool) {
	name, ok := haproxyBalance[balance]
	return name, ok
}

// New returns the scheduler called name. rng seeds the schedulers that use
// chance (rr and lc/wlc start their rotation at a random offset so that
// balancers restarted together do not all send their first connections to
// the same real); a nil rng means offset 0. rng is read only inside New, so it
// may be shared with other users afterwards.
func New(name string, rng *rand.Rand) (Scheduler, error) {
	var off uint64
	if rng != nil {
		off = rng.Uint64() >> 1 // keep the offset positive in int64 arithmetic
	}
	for _, s := range schedulers {
		if s.name == name {
			return s.new(off), nil
		}
	}
	return nil, fmt.Errorf("sched: unknown scheduler %q, want one of %s", name, strings.Join(Names(), " "))
}

// Validate checks cands for the scheduler called name, as New would build it.
func Validate(name string, cands []Candidate) error {
	s, err := New(name, nil)
	if err != nil {
		return err
	}
	return s.(Validator).Validate(cands)
}

// validateWeights is the check every scheduler shares.
func validateWeights(name string, cands []Candidate) error {
	for i, c := range cands {
		if err := CheckWeight(c.Weight); err != nil {
			return fmt.Errorf("sched: %s: weight of candidate %d: %w", name, i, err)
		}
	}
	return nil
}
