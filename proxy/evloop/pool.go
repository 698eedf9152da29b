package evloop

// MaxFree bounds a FreeList: enough for the connections a busy loop
// opens between two batches (a batch is at most maxEvents events, each
// accepting up to l4's acceptBudget), without holding memory for a burst
// long gone.
const MaxFree = 256

// FreeList is a stack of at most MaxFree objects kept for reuse, such as
// a loop's closed Pairs or package l4's ended connections. Its owner's
// goroutine (a loop's) alone; the zero FreeList is empty and ready.
type FreeList[T any] struct{ items []*T }

// Get takes the object put last, or returns nil when the list is empty.
func (f *FreeList[T]) Get() *T {
	k := len(f.items)
	if k == 0 {
		return nil
	}
	x := f.items[k-1]
	f.items[k-1] = nil
	f.items = f.items[:k-1]
	return x
}

// Put keeps x for reuse and reports true, or reports false when the list
// holds MaxFree already (x is then left to the GC).
func (f *FreeList[T]) Put(x *T) bool {
	if len(f.items) >= MaxFree {
		return false
	}
	f.items = append(f.items, x)
	return true
}

// Len returns how many objects the list holds.
func (f *FreeList[T]) Len() int { return len(f.items) }

// pairPool is a loop's free list of Pairs for StartConnecting, so that a
// new connection allocates no Pair: under the L4 new-connection bench
// the Pair was most of 370 bytes per connection, a GC a second, and
// 0.5-2.3 ms stops in the p99. The loop goroutine's alone.
//
// A Pair closed in a batch goes to closed first, and to free only once
// the batch ends (recycle): the batch may still hold events for its
// descriptors (taken by the same epoll_wait), which must find it closed,
// not serving the next connection. One queued for another turn (again)
// waits for that turn too.
type pairPool struct {
	free   FreeList[Pair]
	closed []*Pair
}

// get returns a cleared Pair of l's, reused or new.
func (pp *pairPool) get(l *Loop) *Pair {
	if p := pp.free.Get(); p != nil {
		return p
	}
	return &Pair{l: l, slot: -1, pooled: true}
}

// recycle moves the Pairs closed in this batch to the free list, at the
// end of the batch.
func (pp *pairPool) recycle() {
	keep := pp.closed[:0]
	for _, p := range pp.closed {
		if p.queued {
			keep = append(keep, p) // l.again holds it until the next turn
			continue
		}
		*p = Pair{l: p.l, fd: [2]int{-1, -1}, slot: -1, pooled: true, gen: p.gen} // no descriptor: a stray use fails with EBADF, never on descriptor 0
		pp.free.Put(p)
	}
	clear(pp.closed[len(keep):])
	pp.closed = keep
}

// Ref is a Pair of StartConnecting's for the life of one connection: the
// Pair and its generation. Once the Pair closes, the loop may hand it
// out again (a generation later), and whatever is asked through the Ref
// (Abort, Expire, Inspect) is ignored, so a timer or another goroutine
// that still holds it cannot touch the next connection. A Ref is a value,
// safe to copy and to use from any goroutine; the zero Ref must not be
// used.
type Ref struct {
	l   *Loop
	p   *Pair
	gen uint64
}

// Abort is Pair.Abort for r's connection.
func (r Ref) Abort(err error) {
	r.l.post(post{p: r.p, ref: true, gen: r.gen, kind: postAbort, err: err})
}

// Inspect is Pair.Inspect for r's connection.
func (r Ref) Inspect(fn func(fds [2]int) error) {
	r.l.post(post{p: r.p, ref: true, gen: r.gen, kind: postInspect, fn: fn})
}

// Expire is Pair.Expire for r's connection.
func (r Ref) Expire(attempt int) {
	r.l.post(post{p: r.p, ref: true, gen: r.gen, kind: postExpire, attempt: attempt})
}
