package node

import (
	"fmt"
	"hash/fnv"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/proxy/persist"
)

// Persistence sync of the kernel services: ipvsadm -p templates of nat
// and dr services, and dr's flow table. The kernel keeps them in nftables
// sets on the owner; the peer keeps what it receives in a persist.Table
// per service (and per dr flow table) and loads it into the sets when it
// takes the service over (nft.Service.Seed, SeedFlows), so a sticky
// client keeps its real and an established dr connection goes on to its
// real across a failover, as with the IPVS sync daemon's templates and
// connection table. (nat connections need no such help: conntrackd
// carries their DNAT mapping.) The kernel reports no changes, so the
// owner reads its sets every kernelPollEvery and sends what is new or was
// refreshed by at least a timeout/8 (persist.Table's rule for the
// userspace balancer).
const kernelPollEvery = 500 * time.Millisecond

// kernelSweepEvery is how often the peer's expired entries are dropped
// (the userspace balancer's persistSweep): Export already skips them, the
// sweep bounds memory.
const kernelSweepEvery = 10 * time.Second

// kernelSticky is the sync state of the kernel services, guarded by
// kernelServices.mu. Tables are named by service, dr flow tables by
// flowsName.
type kernelSticky struct {
	peer     map[string]*persist.Table           // the peer's entries
	sent     map[string]map[netip.Addr]sentEntry // what the kernel held, as last sent
	pending  map[string][]persist.Entry          // read, not yet taken by Changes
	lastPoll time.Time
	swept    time.Time
	export   map[string][]persist.Entry // the kernel as read for the running resync
	now      func() time.Time           // time.Now; tests fix it
}

type sentEntry struct {
	real    netip.AddrPort
	expires time.Time
}

// flowsName names a dr service's flow table in the sync: a service name
// cannot hold '/', so it never collides with one.
func flowsName(svc string) string { return svc + "/flows" }

// flowPrefix is 64:ff9b:1::/48 (RFC 8215, local-use IPv4/IPv6
// translation): a dr flow's client address and port travel as one IPv6
// address in it, since the sync's entries key by client address.
var flowPrefix = [6]byte{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}

func flowAddr(c netip.AddrPort) netip.Addr {
	var b [16]byte
	copy(b[:], flowPrefix[:])
	b[10], b[11] = byte(c.Port()>>8), byte(c.Port())
	a := c.Addr().As4()
	copy(b[12:], a[:])
	return netip.AddrFrom16(b)
}

func flowClient(a netip.Addr) (netip.AddrPort, bool) {
	b := a.As16()
	if !a.Is6() || [6]byte(b[:6]) != flowPrefix {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:])), uint16(b[10])<<8|uint16(b[11])), true
}

// syncedTables returns the tables service s syncs, with their timeouts.
func syncedTables(s config.Service) map[string]time.Duration {
	out := map[string]time.Duration{}
	if s.Persistent > 0 {
		out[s.Name] = s.Persistent
	}
	if s.Method.Flows() {
		out[flowsName(s.Name)] = nft.FlowTimeoutTCP
		if s.Protocol == "udp" {
			out[flowsName(s.Name)] = nft.FlowTimeoutUDP
		}
	}
	return out
}

func (k *kernelServices) stickyInit() {
	k.sticky = kernelSticky{peer: map[string]*persist.Table{}, sent: map[string]map[netip.Addr]sentEntry{},
		pending: map[string][]persist.Entry{}, now: time.Now}
	k.stickyTables()
}

// stickyTables gives every synced table a table for the peer's entries
// (kept across a reload with the same timeout).
func (k *kernelServices) stickyTables() {
	next := map[string]*persist.Table{}
	for _, name := range k.order {
		for tn, timeout := range syncedTables(k.svcs[name].cfg) {
			if t := k.sticky.peer[tn]; t != nil && t.Timeout() == timeout {
				next[tn] = t
				continue
			}
			next[tn] = persist.New(timeout, time.Now)
		}
	}
	k.sticky.peer = next
}

// seed sets ns's Seed and SeedFlows from the peer's live entries.
func (k *kernelServices) seed(ns *nft.Service, now time.Time) {
	if t := k.sticky.peer[ns.Name]; t != nil {
		for _, e := range t.Export() {
			ns.Seed = append(ns.Seed, nft.Persisted{Client: e.Client, Real: e.Real, TTL: e.Expires.Sub(now)})
		}
	}
	if t := k.sticky.peer[flowsName(ns.Name)]; t != nil {
		for _, e := range t.Export() {
			if c, ok := flowClient(e.Client); ok {
				ns.SeedFlows = append(ns.SeedFlows, nft.Flow{Client: c, Real: e.Real, TTL: e.Expires.Sub(now)})
			}
		}
	}
}

// live reads the kernel's synced tables of the active services, as
// entries by table name.
func (k *kernelServices) live(now time.Time) (map[string][]persist.Entry, error) {
	var svcs []nft.Service
	for _, name := range k.order {
		if s := k.svcs[name]; s.active && len(syncedTables(s.cfg)) > 0 {
			svcs = append(svcs, kernelSpec(s.cfg, s))
		}
	}
	out := map[string][]persist.Entry{}
	if len(svcs) == 0 {
		return out, nil
	}
	ps, err := k.tables.Persistence(svcs)
	if err != nil {
		return nil, err
	}
	for name, list := range ps {
		for _, p := range list {
			out[name] = append(out[name], persist.Entry{Client: p.Client, Real: p.Real, Expires: now.Add(p.TTL)})
		}
	}
	fs, err := k.tables.Flows(svcs)
	if err != nil {
		return nil, err
	}
	for name, list := range fs {
		for _, f := range list {
			out[flowsName(name)] = append(out[flowsName(name)], persist.Entry{Client: flowAddr(f.Client), Real: f.Real, Expires: now.Add(f.TTL)})
		}
	}
	return out, nil
}

// poll reads the active services' sets and queues what is new, moved to
// another real, or refreshed by at least timeout/8.
func (k *kernelServices) poll(now time.Time) {
	k.sticky.lastPoll = now
	got, err := k.live(now)
	if err != nil {
		k.log.Warn("reading the kernel's persistence and flow sets for the peer failed", "err", err)
		return
	}
	sent := map[string]map[netip.Addr]sentEntry{}
	for tn, es := range got {
		t := k.sticky.peer[tn]
		if t == nil {
			continue
		}
		old := k.sticky.sent[tn]
		cur := map[netip.Addr]sentEntry{}
		for _, e := range es {
			se := sentEntry{real: e.Real, expires: e.Expires}
			prev, ok := old[e.Client]
			if ok && prev.real == se.real && se.expires.Sub(prev.expires) < t.Timeout()/8 {
				cur[e.Client] = prev
				continue
			}
			cur[e.Client] = se
			k.sticky.pending[tn] = append(k.sticky.pending[tn], e)
		}
		sent[tn] = cur
	}
	k.sticky.sent = sent
}

// PersistenceChanges returns up to max entries the kernel took or
// refreshed since the last call, reading the sets at most every
// kernelPollEvery. The sync calls it every tick on every node, so it also
// sweeps the peer's tables.
func (k *kernelServices) PersistenceChanges(max int) map[string][]persist.Entry {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.sticky.now()
	if now.Sub(k.sticky.lastPoll) >= kernelPollEvery {
		k.poll(now)
	}
	if now.Sub(k.sticky.swept) >= kernelSweepEvery {
		k.sticky.swept = now
		for _, t := range k.sticky.peer {
			t.Expire()
		}
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

// ExportPersistenceShard returns part i of every synced table for a
// full resync: the kernel's for an active service, the peer's (held for
// a takeover) for the others.
func (k *kernelServices) ExportPersistenceShard(i int) map[string][]persist.Entry {
	k.mu.Lock()
	defer k.mu.Unlock()
	// A resync asks for parts 0 to Shards-1 in turn: the kernel is read
	// once, at part 0, not once per part.
	if i == 0 || k.sticky.export == nil {
		var err error
		if k.sticky.export, err = k.live(k.sticky.now()); err != nil {
			k.log.Warn("reading the kernel's persistence and flow sets for the peer failed", "err", err)
		}
	}
	live := k.sticky.export
	if i == persist.Shards-1 {
		k.sticky.export = nil
	}
	out := map[string][]persist.Entry{}
	for _, name := range k.order {
		s := k.svcs[name]
		for tn := range syncedTables(s.cfg) {
			var es []persist.Entry
			if s.active {
				for _, e := range live[tn] {
					if shardOf(e.Client) == i {
						es = append(es, e)
					}
				}
			} else if t := k.sticky.peer[tn]; t != nil {
				es = t.ExportShard(i)
			}
			out[tn] = es
		}
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
	for _, name := range k.order {
		s := k.svcs[name]
		for tn := range syncedTables(s.cfg) {
			if s.active {
				n += len(k.sticky.sent[tn])
			} else if t := k.sticky.peer[tn]; t != nil {
				n += t.Stats().Entries
			}
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
