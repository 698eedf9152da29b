package persist

import (
	"iter"
	"net/netip"
	"sync"
	"time"
)

// Entry is one client's affinity: new connections from Client go to Real
// until Expires.
type Entry struct {
	Client  netip.Addr
	Real    netip.AddrPort
	Expires time.Time
}

// DefaultMaxEntries bounds a Table: about 100 bytes each (map slot, key, real,
// expiry), so a full table costs about 100 MiB. A full table refuses new
// clients rather than evicting: evicting would let a flood of new (possibly
// spoofed) source addresses push out the clients that are mid-session, while
// refusing only means a new client gets no affinity until entries expire.
const DefaultMaxEntries = 1 << 20

// shards spreads the lock: Lookup writes (it refreshes), so one mutex
// would serialise every new connection of a busy service.
const shards = 16

// Shards is how many parts ExportShard splits a table into.
const Shards = shards

// Table maps client addresses to reals with an inactivity timeout. It is safe
// for concurrent use. Build it with New; the zero value is not usable.
type Table struct {
	timeout  time.Duration
	now      func() time.Time
	epoch    time.Time // expiries are stored as offsets from epoch (monotonic when now is time.Now)
	maxShard int

	shard [shards]shard
}

type shard struct {
	mu      sync.Mutex
	m       map[netip.Addr]slot
	refused uint64
	// changed holds the clients whose entry is new or was refreshed
	// enough to matter since the last Changes: what the peer lacks. It
	// holds only keys of m (deleting from m deletes here), so the table's
	// bound bounds it even when nobody calls Changes.
	changed map[netip.Addr]struct{}
}

type slot struct {
	real    netip.AddrPort
	expires time.Duration // since Table.epoch
	// told is the expiry last marked as changed (or imported): a refresh
	// is worth sending only once it moves the expiry by refreshStep.
	told time.Duration
}

// refreshStep is how far a refresh must move an entry's expiry before it
// counts as a change for Changes, as a fraction of the timeout. Every
// Lookup refreshes; sending each one would cost a datagram share per
// connection, so the peer's copy may expire up to timeout/8 before the
// owner's (IPVS's sync daemon likewise resends a connection only every
// sync_refresh_period, not on every packet).
const refreshStep = 8

// New returns an empty table whose entries expire timeout after their last
// Lookup or Put, reading the time from now (time.Now in production).
func New(timeout time.Duration, now func() time.Time) *Table {
	t := &Table{timeout: timeout, now: now, epoch: now()}
	t.SetMaxEntries(DefaultMaxEntries)
	for i := range t.shard {
		t.shard[i].m = make(map[netip.Addr]slot)
		t.shard[i].changed = make(map[netip.Addr]struct{})
	}
	return t
}

// SetMaxEntries changes the bound (at least one entry per shard); entries
// already held above a lowered bound stay until they expire.
func (t *Table) SetMaxEntries(n int) { t.maxShard = max(n/shards, 1) }

// Timeout returns the inactivity timeout given to New.
func (t *Table) Timeout() time.Duration { return t.timeout }

func key(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func (t *Table) shardOf(a netip.Addr) *shard {
	b := a.As16()
	h := uint32(2166136261) // FNV-1a over the low 8 bytes: cheap and spreads IPv4
	for _, x := range b[8:] {
		h = (h ^ uint32(x)) * 16777619
	}
	return &t.shard[h%shards]
}

// lockedShards yields each shard with its mutex held, unlocking it when
// the loop body ends (also on break).
func (t *Table) lockedShards() iter.Seq[*shard] {
	return func(yield func(*shard) bool) {
		for i := range t.shard {
			s := &t.shard[i]
			s.mu.Lock()
			more := yield(s)
			s.mu.Unlock()
			if !more {
				return
			}
		}
	}
}

func (t *Table) offset() time.Duration { return t.now().Sub(t.epoch) }

// Lookup returns client's real and refreshes its expiry, as IPVS refreshes a
// template while the client uses it. An expired entry is dropped and not found.
func (t *Table) Lookup(client netip.Addr) (netip.AddrPort, bool) {
	client = key(client)
	now := t.offset()
	s := t.shardOf(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[client]
	if !ok {
		return netip.AddrPort{}, false
	}
	if e.expires <= now {
		delete(s.m, client)
		delete(s.changed, client)
		return netip.AddrPort{}, false
	}
	e.expires = now + t.timeout
	if e.expires-e.told >= t.timeout/refreshStep {
		e.told = e.expires
		s.changed[client] = struct{}{}
	}
	s.m[client] = e
	return e.real, true
}

// Put records that client uses real, until timeout from now. When the table is
// full (see DefaultMaxEntries) a new client is not stored and Stats.Refused
// counts it.
func (t *Table) Put(client netip.Addr, real netip.AddrPort) {
	client = key(client)
	now := t.offset()
	s := t.shardOf(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.put(client, slot{real: real, expires: now + t.timeout, told: now + t.timeout}, now, t.maxShard) {
		s.changed[client] = struct{}{}
	}
}

// put stores e unless the shard is full even after dropping expired entries.
func (s *shard) put(client netip.Addr, e slot, now time.Duration, maxShard int) bool {
	if _, ok := s.m[client]; !ok && len(s.m) >= maxShard {
		s.expire(now)
		if len(s.m) >= maxShard {
			s.refused++
			return false
		}
	}
	s.m[client] = e
	return true
}

func (s *shard) expire(now time.Duration) int {
	n := 0
	for c, e := range s.m {
		if e.expires <= now {
			delete(s.m, c)
			delete(s.changed, c)
			n++
		}
	}
	return n
}

// Forget drops every entry pointing at real, so its clients are scheduled
// afresh; call it when a real is removed (or has failed).
func (t *Table) Forget(real netip.AddrPort) {
	for s := range t.lockedShards() {
		for c, e := range s.m {
			if e.real == real {
				delete(s.m, c)
				delete(s.changed, c)
			}
		}
	}
}

// Expire drops the expired entries and returns how many.
func (t *Table) Expire() int {
	now := t.offset()
	n := 0
	for s := range t.lockedShards() {
		n += s.expire(now)
	}
	return n
}

// Export returns the live entries, in no particular order.
func (t *Table) Export() []Entry {
	wall := t.now()
	now := wall.Sub(t.epoch)
	var es []Entry
	for s := range t.lockedShards() {
		es = s.appendLive(es, wall, now)
	}
	return es
}

// ExportShard returns the live entries of part i (0 <= i < Shards) of the
// table: Export a part at a time, so a full resync of a big table need not
// copy it whole at once.
func (t *Table) ExportShard(i int) []Entry {
	wall := t.now()
	s := &t.shard[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLive(nil, wall, wall.Sub(t.epoch))
}

// appendLive appends the shard's entries still live at now (since the
// table's epoch; wall is the same instant), with s.mu held.
func (s *shard) appendLive(es []Entry, wall time.Time, now time.Duration) []Entry {
	for c, e := range s.m {
		if e.expires > now {
			es = append(es, Entry{Client: c, Real: e.real, Expires: wall.Add(e.expires - now)})
		}
	}
	return es
}

// Import merges entries from the peer. On a conflict the later expiry wins
// (with its real); expired and invalid entries are skipped, and expiries are
// capped at timeout from now, so a peer with a longer timeout or a bad clock
// cannot pin a client. Entries for reals this node does not have are kept;
// the caller drops them with Forget.
func (t *Table) Import(es []Entry) {
	wall := t.now()
	now := wall.Sub(t.epoch)
	for _, in := range es {
		if !in.Client.IsValid() || !in.Real.IsValid() {
			continue
		}
		left := min(in.Expires.Sub(wall), t.timeout)
		if left <= 0 {
			continue
		}
		client := key(in.Client)
		s := t.shardOf(client)
		s.mu.Lock()
		if cur, ok := s.m[client]; !ok || cur.expires < now+left {
			s.put(client, slot{real: in.Real, expires: now + left, told: now + left}, now, t.maxShard)
		}
		s.mu.Unlock()
	}
}

// Changes returns up to max entries that are new or were refreshed by at
// least timeout/8 since they were last returned (by Put or Lookup here, not
// by Import, so a peer's entries are not echoed back), and forgets them as
// changes. Entries that expired or were forgotten meanwhile are not
// returned: the peer's copy expires by itself at the expiry it was sent.
// Changes left over stay for the next call.
func (t *Table) Changes(max int) []Entry {
	wall := t.now()
	now := wall.Sub(t.epoch)
	var es []Entry
	for s := range t.lockedShards() {
		for c := range s.changed {
			if len(es) >= max {
				break
			}
			delete(s.changed, c)
			if e, ok := s.m[c]; ok && e.expires > now {
				es = append(es, Entry{Client: c, Real: e.real, Expires: wall.Add(e.expires - now)})
			}
		}
		if len(es) >= max {
			break
		}
	}
	return es
}

// Pending returns how many changes wait for Changes.
func (t *Table) Pending() int {
	n := 0
	for s := range t.lockedShards() {
		n += len(s.changed)
	}
	return n
}

// Stats is a snapshot of a table's counters.
type Stats struct {
	Entries int    // held now, including expired ones not yet dropped
	Refused uint64 // Puts and imports refused because the table was full
}

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	var st Stats
	for s := range t.lockedShards() {
		st.Entries += len(s.m)
		st.Refused += s.refused
	}
	return st
}
