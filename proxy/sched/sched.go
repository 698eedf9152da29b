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

// names lists the schedulers New accepts, in the order DESIGN.md gives them.
var names = []string{"rr", "wrr", "lc", "wlc", "sh"}

// Names returns the scheduler names New accepts: rr wrr lc wlc sh.
func Names() []string { return append([]string(nil), names...) }

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
	switch name {
	case "rr":
		return newRoundRobin(off), nil
	case "wrr":
		return &WeightedRoundRobin{}, nil
	case "lc":
		return newLeastConn(off), nil
	case "wlc":
		return newWeightedLeastConn(off), nil
	case "sh":
		return &SourceHash{}, nil
	}
	return nil, fmt.Errorf("sched: unknown scheduler %q, want one of %s", name, strings.Join(names, " "))
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
		if c.Weight < 0 || c.Weight > MaxWeight {
			return fmt.Errorf("sched: %s: weight %d of candidate %d out of range 0..%d", name, c.Weight, i, MaxWeight)
		}
	}
	return nil
}

// Interface guards.
var (
	_ Scheduler = (*RoundRobin)(nil)
	_ Scheduler = (*WeightedRoundRobin)(nil)
	_ Scheduler = (*LeastConn)(nil)
	_ Scheduler = (*WeightedLeastConn)(nil)
	_ Scheduler = (*SourceHash)(nil)

	_ Validator = (*RoundRobin)(nil)
	_ Validator = (*WeightedRoundRobin)(nil)
	_ Validator = (*LeastConn)(nil)
	_ Validator = (*WeightedLeastConn)(nil)
	_ Validator = (*SourceHash)(nil)
)
