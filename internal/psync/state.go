package psync

import "time"

// In is what this node received from one sender: which of its messages
// arrived in order and whether a full resync arrived complete since the
// last loss. The zero value is a sender never heard. In is unsafe for
// concurrent use.
type In struct {
	gen, n   uint64
	seen     bool
	synced   bool
	resync   bool   // a Begin arrived and no loss since
	epoch    uint64 // of that Begin
	parts    uint64 // Parts of that epoch received
	Gaps     uint64 // messages lost (a jump in n within a generation)
	Restarts uint64 // new generations seen after the first
}

// Receive notes m, sent by the sender in its generation gen, and reports
// whether m's chunk should be imported (Delta and Part: entries are good
// whatever the bookkeeping says, and a later expiry wins on import).
// Messages must come in increasing (generation, seq) order, as ha/link
// delivers them; an n not above the last is ignored.
func (in *In) Receive(gen uint64, m *Message) (importChunk bool) {
	switch {
	case !in.seen || gen != in.gen:
		if in.seen {
			in.Restarts++
		}
		*in = In{gen: gen, n: m.N, seen: true, Gaps: in.Gaps, Restarts: in.Restarts}
	case m.N <= in.n:
		return false
	case m.N != in.n+1:
		in.Gaps += m.N - in.n - 1
		in.synced, in.resync = false, false
		in.n = m.N
	default:
		in.n = m.N
	}
	switch m.Type {
	case Begin:
		in.resync, in.epoch, in.parts = true, m.Epoch, 0
	case Part:
		if in.resync && m.Epoch == in.epoch {
			in.parts++
		}
		return true
	case End:
		if in.resync && m.Epoch == in.epoch && m.Parts == in.parts {
			in.synced = true
		}
		in.resync = false
	case Delta:
		return true
	}
	return false
}

// Synced reports whether this node holds the sender's whole table: a full
// resync arrived complete and no message was lost since.
func (in *In) Synced() bool { return in.synced }

// Ack is what a Hello says about this sender.
func (in *In) Ack(name string) Ack {
	return Ack{Name: name, Generation: in.gen, N: in.n, Synced: in.synced}
}

// Out is the sending side of one node: its message numbers, its full
// resyncs, and what each peer last said it holds. Self and Gen must be set
// before use; Holdoff is how long after starting a resync a peer that has not
// acknowledged it yet (whose Hello may predate it) may ask for another. Out
// is unsafe for concurrent use.
type Out struct {
	Self    string // this node's name, as peers' acks name it
	Gen     uint64
	Holdoff time.Duration

	n         uint64
	epoch     uint64
	resyncing bool
	endN      uint64         // n of the last End sent
	ended     time.Time      // when it was sent
	acks      map[string]Ack // peer -> what it last said about us
}

// Next returns the number of the next message to send.
func (o *Out) Next() uint64 { o.n++; return o.n }

// Sent returns the number of the last message sent.
func (o *Out) Sent() uint64 { return o.n }

// Heard records peer's Hello.
func (o *Out) Heard(peer string, h *Message) {
	if o.acks == nil {
		o.acks = map[string]Ack{}
	}
	a := Ack{Name: peer}
	for _, x := range h.Acks {
		if x.Name == o.Self {
			a = x
		}
	}
	o.acks[peer] = a
}

// WantResync reports whether a full resync should start at now: none is
// running, and a peer's last Hello says it lacks this node's table (it
// does not know this generation, or is not synced) and either it has
// received everything up to the last resync's End (so that one did not
// serve it) or the last resync ended at least Holdoff ago (its End or
// the peer's Hello since was lost).
func (o *Out) WantResync(now time.Time) bool {
	if o.resyncing {
		return false
	}
	for _, a := range o.acks {
		if a.Generation == o.Gen && a.Synced {
			continue
		}
		if (a.Generation == o.Gen && a.N >= o.endN) || o.ended.IsZero() || now.Sub(o.ended) >= o.Holdoff {
			return true
		}
	}
	return false
}

// StartResync marks a full resync as started and returns its epoch.
func (o *Out) StartResync() uint64 {
	o.epoch++
	o.resyncing = true
	return o.epoch
}

// EndResync marks the running resync as ended at now by the End numbered n.
func (o *Out) EndResync(n uint64, now time.Time) { o.resyncing, o.endN, o.ended = false, n, now }

// Resyncing reports whether a full resync is running.
func (o *Out) Resyncing() bool { return o.resyncing }

// CaughtUp reports whether peer's last Hello says it holds this node's
// whole table and every message up to n.
func (o *Out) CaughtUp(peer string, n uint64) bool {
	a, ok := o.acks[peer]
	return ok && a.Generation == o.Gen && a.Synced && a.N >= n
}

// Acked returns what peer last said about this node, and false if it has
// not said anything yet.
func (o *Out) Acked(peer string) (Ack, bool) {
	a, ok := o.acks[peer]
	return a, ok
}
