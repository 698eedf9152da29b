package node

import (
	"fmt"
	"hash/fnv"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/persist"
)

// Persistence sync of the kernel services (ipvsadm -p on nat and dr).
// The kernel keeps a persistent service's templates in nftables sets on
// the owner; the peer keeps what it receives in a persist.Table per
// service and loads it into the sets when it takes the service over
// (nft.Service.Seed), so a sticky client keeps its real across a
// failover, as the IPVS sync daemon's persistence templates do. The
// kernel reports no changes, so the owner reads its sets every
// kernelPollEvery and sends what is new or was refreshed by at least a
// timeout/8 (persist.Table's rule for the userspace balancer).
const kernelPollEvery = 500 * time.Millisecond

// kernelSticky is the persistence sync state of the kernel services,
// guarded by kernelServices.mu.
type kernelSticky struct {
	peer     map[string]*persist.Table           // by service: the peer's entries
	sent     map[string]map[netip.Addr]sentEntry // by service: what the kernel held, as last sent
	pending  map[string][]persist.Entry          // read, not yet taken by Changes
	lastPoll time.Time
	now      func() time.Time // time.Now; tests fix it
}

type sentEntry struct {
	real    netip.AddrPort
	expires time.Time
}

func (k *kernelServices) stickyInit() {
	k.sticky = kernelSticky{peer: map[string]*persist.Table{}, sent: map[string]map[netip.Addr]sentEntry{},
		pending: map[string][]persist.Entry{}, now: time.Now}
	k.stickyTables()
}

// stickyTables gives every persistent kernel service a table for the
// peer's entries (kept across a reload with the same timeout).
func (k *kernelServices) stickyTables() {
	next := map[string]*persist.Table{}
	for _, name := range k.order {
		s := k.svcs[name]
		if s.cfg.Persistent <= 0 {
			continue
		}
		if t := k.sticky.peer[name]; t != nil && t.Timeout() == s.cfg.Persistent {
			next[name] = t
			continue
		}
		next[name] = persist.New(s.cfg.Persistent, time.Now)
	}
	k.sticky.peer = next
}

// seed returns the peer's live entries for name as nft.Persisted.
func (k *kernelServices) seed(name string, now time.Time) []nft.Persisted {
	t := k.sticky.peer[name]
	if t == nil {
		return nil
	}
	var out []nft.Persisted
	for _, e := range t.Export() {
		out = append(out, nft.Persisted{Client: e.Client, Real: e.Real, TTL: e.Expires.Sub(now)})
	}
	return out
}

// activePersistent returns the specs of the active persistent services.
func (k *kernelServices) activePersistent() []nft.Service {
	var out []nft.Service
	for _, name := range k.order {
		if s := k.svcs[name]; s.active && s.cfg.Persistent > 0 {
			out = append(out, kernelSpec(s.cfg, s))
		}
	}
	return out
}

// poll reads the active services' persistence sets and queues what is
// new, moved to another real, or refreshed by at least timeout/8.
func (k *kernelServices) poll(now time.Time) {
	k.sticky.lastPoll = now
	svcs := k.activePersistent()
	if len(svcs) == 0 {
		k.sticky.sent = map[string]map[netip.Addr]sentEntry{}
		return
	}
	got, err := k.tables.Persistence(svcs)
	if err != nil {
		k.log.Warn("reading the kernel's persistence sets for the peer failed", "err", err)
		return
	}
	sent := map[string]map[netip.Addr]sentEntry{}
	for _, s := range svcs {
		old := k.sticky.sent[s.Name]
		cur := map[netip.Addr]sentEntry{}
		for _, p := range got[s.Name] {
			e := sentEntry{real: p.Real, expires: now.Add(p.TTL)}
			prev, ok := old[p.Client]
			if ok && prev.real == e.real && e.expires.Sub(prev.expires) < s.Persistent/8 {
				cur[p.Client] = prev
				continue
			}
			cur[p.Client] = e
			k.sticky.pending[s.Name] = append(k.sticky.pending[s.Name], persist.Entry{Client: p.Client, Real: p.Real, Expires: e.expires})
		}
		sent[s.Name] = cur
	}
	k.sticky.sent = sent
}

// PersistenceChanges returns up to max entries the kernel took or
// refreshed since the last call, reading the sets at most every
// kernelPollEvery.
func (k *kernelServices) PersistenceChanges(max int) map[string][]persist.Entry {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.sticky.now()
	if now.Sub(k.sticky.lastPoll) >= kernelPollEvery {
		k.poll(now)
	}
	out := map[string][]persist.Entry{}
	for name, es := range k.sticky.pending {
		if max <= 0 {
			break
		}
		n := min(max, len(es))
		out[name] = es[:n]
		max -= n
		if n == len(es) {
			delete(k.sticky.pending, name)
		} else {
			k.sticky.pending[name] = es[n:]
		}
	}
	return out
}

// ExportPersistenceShard returns part i of every persistent kernel
// service's entries for a full resync: the kernel's for an active
// service, the peer's (held for a takeover) for the others.
func (k *kernelServices) ExportPersistenceShard(i int) map[string][]persist.Entry {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.sticky.now()
	out := map[string][]persist.Entry{}
	var live map[string][]nft.Persisted
	if svcs := k.activePersistent(); len(svcs) > 0 {
		var err error
		if live, err = k.tables.Persistence(svcs); err != nil {
			k.log.Warn("reading the kernel's persistence sets for the peer failed", "err", err)
		}
	}
	for _, name := range k.order {
		s := k.svcs[name]
		if s.cfg.Persistent <= 0 {
			continue
		}
		var es []persist.Entry
		if s.active {
			for _, p := range live[name] {
				if shardOf(p.Client) == i {
					es = append(es, persist.Entry{Client: p.Client, Real: p.Real, Expires: now.Add(p.TTL)})
				}
			}
		} else if t := k.sticky.peer[name]; t != nil {
			es = t.ExportShard(i)
		}
		out[name] = es
	}
	return out
}

func shardOf(a netip.Addr) int {
	h := fnv.New32a()
	b, _ := a.MarshalBinary()
	h.Write(b)
	return int(h.Sum32() % persist.Shards)
}

// importPersistence keeps the peer's entries of a persistent kernel
// service for the next takeover; it reports whether name is one.
func (k *kernelServices) importPersistence(name string, es []persist.Entry) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := k.sticky.peer[name]
	if t == nil {
		return false
	}
	t.Import(es)
	return true
}

// persistenceEntries counts the entries held: the kernel's as last read
// for active services, the peer's for the others.
func (k *kernelServices) persistenceEntries() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for name, t := range k.sticky.peer {
		if s := k.svcs[name]; s != nil && s.active {
			n += len(k.sticky.sent[name])
		} else {
			n += t.Stats().Entries
		}
	}
	return n
}

// persistTables is what the persistence sync reads and writes: the
// userspace balancer's tables and the kernel services' sets, either of
// which may be absent.
type persistTables struct {
	b *proxy.Balancer
	k *kernelServices
}

var _ syncTable = persistTables{}

func (p persistTables) PersistenceChanges(max int) map[string][]persist.Entry {
	out := map[string][]persist.Entry{}
	if p.b != nil {
		out = p.b.PersistenceChanges(max)
		for _, es := range out {
			max -= len(es)
		}
	}
	if p.k != nil && max > 0 {
		for name, es := range p.k.PersistenceChanges(max) {
			out[name] = es
		}
	}
	return out
}

func (p persistTables) ExportPersistenceShard(i int) map[string][]persist.Entry {
	out := map[string][]persist.Entry{}
	if p.b != nil {
		out = p.b.ExportPersistenceShard(i)
	}
	if p.k != nil {
		for name, es := range p.k.ExportPersistenceShard(i) {
			out[name] = es
		}
	}
	return out
}

func (p persistTables) ImportPersistence(es map[string][]persist.Entry) error {
	rest := map[string][]persist.Entry{}
	for name, list := range es {
		if p.k == nil || !p.k.importPersistence(name, list) {
			rest[name] = list
		}
	}
	if len(rest) == 0 {
		return nil
	}
	if p.b == nil {
		return errUnknownPersistent(rest)
	}
	return p.b.ImportPersistence(rest)
}

func (p persistTables) entries() int {
	n := 0
	if p.b != nil {
		n += p.b.PersistenceEntries()
	}
	if p.k != nil {
		n += p.k.persistenceEntries()
	}
	return n
}

// errUnknownPersistent names services the peer sent entries for that
// have no persistence here (the two configs differ).
func errUnknownPersistent(es map[string][]persist.Entry) error {
	names := slices.Sorted(maps.Keys(es))
	return fmt.Errorf("node: persistence entries for unknown or non-persistent service(s) %s ignored", strings.Join(names, ", "))
}
