// Package replay decides whether a peer's heartbeat is new enough to act on.
//
// It owns the per-peer (generation, sequence) acceptance rule of Heartbeat's
// replay protection: a node persists a generation number and increments it
// at every start, and numbers its packets within a generation. A packet is
// accepted when its generation is higher than the last accepted one (the
// peer restarted) or, in the same generation, its sequence number is higher.
// Anything else is a replay, or a duplicate of the same packet that arrived
// on another link, and is dropped with a Verdict saying which.
//
// The package is pure: no I/O, no clock, no logging, stdlib only. The MAC
// must be checked (ha/wire.Open) before a packet reaches a Filter, or a
// forged packet with a huge generation would lock the real peer out.
package replay

import "fmt"

// Verdict is the outcome of Filter.Check.
type Verdict uint8

const (
	// AcceptFirst: the first packet this filter has seen.
	AcceptFirst Verdict = iota
	// AcceptNext: same generation, higher sequence number.
	AcceptNext
	// AcceptRestart: higher generation; the peer restarted.
	AcceptRestart
	// DropDuplicate: the same (generation, seq) as the last accepted packet.
	// Expected when several links carry every packet, so callers should
	// count it but not treat it as an attack, and may count it as a sign
	// of life of the link it arrived on, but only within a duplicate
	// window: the filter has no clock, so a copy replayed at any later
	// time gets this verdict too, and the caller must judge it a replay
	// (ha/link uses the sender's keepalive as the window).
	DropDuplicate
	// DropOldSeq: same generation, lower sequence number: a replay, or a
	// packet that a slower link delivered after a newer one.
	DropOldSeq
	// DropOldGeneration: lower generation: a replay from an earlier run of
	// the peer, or a peer whose state directory was wiped.
	DropOldGeneration
)

var verdictNames = [...]string{
	AcceptFirst:       "accept-first",
	AcceptNext:        "accept-next",
	AcceptRestart:     "accept-restart",
	DropDuplicate:     "duplicate",
	DropOldSeq:        "old-seq",
	DropOldGeneration: "old-generation",
}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Accepted reports whether the packet should be acted on.
func (v Verdict) Accepted() bool { return v <= AcceptRestart }

// Filter tracks the last accepted (generation, seq) of one peer.
//
// The zero value for Filter is an empty filter ready to use: it accepts any
// first packet. Filters are unsafe for concurrent use.
type Filter struct {
	gen, seq uint64
	seen     bool
}

// Check returns the verdict for a packet numbered (gen, seq) and, when the
// verdict is an accept, records it as the last accepted packet.
func (f *Filter) Check(gen, seq uint64) Verdict {
	var v Verdict
	switch {
	case !f.seen:
		v = AcceptFirst
	case gen > f.gen:
		v = AcceptRestart
	case gen < f.gen:
		return DropOldGeneration
	case seq > f.seq:
		v = AcceptNext
	case seq == f.seq:
		return DropDuplicate
	default:
		return DropOldSeq
	}
	f.gen, f.seq, f.seen = gen, seq, true
	return v
}

// Last returns the last accepted (generation, seq), and false if none.
func (f *Filter) Last() (gen, seq uint64, ok bool) { return f.gen, f.seq, f.seen }

// Reset forgets the peer, so its next packet is accepted whatever its
// numbers. Only an operator decision may call it (for example after a peer's
// state directory was wiped): resetting on silence would let an attacker
// replay old packets once the peer goes quiet.
func (f *Filter) Reset() { *f = Filter{} }
