package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/internal/psync"
	"github.com/hapair/hapair/proxy/persist"
)

// Persistence sync pacing. A tick sends at most syncBudget datagrams of
// changes and resync parts (about 6.5 MB/s of payload: 1,000,000 IPv4
// entries in about 2 s), so the sync never floods the link the heartbeats
// share; heartbeats have their own socket and goroutine besides.
const (
	syncTick      = 10 * time.Millisecond
	syncBudget    = 64
	helloEvery    = 500 * time.Millisecond
	resyncHoldoff = 2 * time.Second // a resync of 1M entries takes about 2 s
	// chunkSize leaves room in the 1024-byte payload for the largest
	// message header: version, type, n and epoch (two 10-byte uvarints).
	chunkSize = psync.MaxSize - 22
)

// syncTransport carries sync messages as heartbeat-format packets: a
// link.Set on its own sockets (the heartbeat port + 1), so sync shares the
// keyring, the TTL-255 guard and replay protection with heartbeats but
// never their socket buffers.
type syncTransport interface {
	Send(*wire.Packet) error
	Received() <-chan *wire.Packet
}

// syncTable is the balancer's persistence as the syncer uses it
// (*proxy.Balancer satisfies it).
type syncTable interface {
	PersistenceChanges(max int) map[string][]persist.Entry
	ExportPersistenceShard(i int) map[string][]persist.Entry
	ImportPersistence(map[string][]persist.Entry) error
}

// syncer sends this node's persistence changes and full resyncs to its
// peers and imports theirs. Its methods are safe for concurrent use.
type syncer struct {
	tr        syncTransport
	tab       syncTable
	clock     clock.Clock
	log       *slog.Logger
	keepalive time.Duration // stamped on packets: ha/link's duplicate window
	gen       uint64

	mu        sync.Mutex
	out       psync.Out
	in        map[string]*psync.In
	heard     map[string]time.Time
	helloDue  bool
	lastHello time.Time
	deltas    [][]byte // encoded changes not sent yet
	parts     [][]byte // the running resync's encoded parts not sent yet
	nextShard int      // the next table part (persist.Shards) to encode
	partsSent uint64
	epoch     uint64
	st        syncCounters
}

// syncCounters are the syncer's totals since start.
type syncCounters struct {
	Messages        uint64 // sent
	PayloadBytes    uint64 // sent, message bytes (without packet header and MAC)
	EntriesSent     uint64 // in Deltas and Parts
	EntriesReceived uint64 // imported
	ResyncsSent     uint64
	Malformed       uint64 // payloads or chunks that did not decode
	SendErrors      uint64
	Unknown         uint64 // entries for services not persistent here
}

func newSyncer(self string, gen uint64, keepalive time.Duration, tr syncTransport, tab syncTable, clk clock.Clock, log *slog.Logger) *syncer {
	return &syncer{
		tr: tr, tab: tab, clock: clock.Or(clk), log: log, keepalive: keepalive, gen: gen,
		out:      psync.Out{Self: self, Gen: gen, Holdoff: resyncHoldoff},
		in:       map[string]*psync.In{},
		heard:    map[string]time.Time{},
		helloDue: true, // a node that starts asks for everyone's table at once
	}
}

// run sends and receives until ctx ends.
func (s *syncer) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.receive(ctx)
	}()
	t := s.clock.NewTicker(syncTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C():
			s.tick()
		}
	}
}

// tick sends one interval's worth: a Hello when due, changes, then the
// running resync's parts, within syncBudget datagrams.
func (s *syncer) tick() {
	s.send(s.batch(s.clock.Now()))
}

func (s *syncer) batch(now time.Time) []psync.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ms []psync.Message
	if s.helloDue || now.Sub(s.lastHello) >= helloEvery {
		s.helloDue, s.lastHello = false, now
		h := psync.Message{Type: psync.Hello, N: s.out.Next()}
		for name, in := range s.in {
			h.Acks = append(h.Acks, in.Ack(name))
		}
		ms = append(ms, h)
	}
	budget := syncBudget
	if len(s.deltas) == 0 {
		s.deltas = s.encode(s.tab.PersistenceChanges(budget*chunkSize/14), now)
	}
	for budget > 0 && len(s.deltas) > 0 {
		ms = append(ms, psync.Message{Type: psync.Delta, N: s.out.Next(), Chunk: s.deltas[0]})
		s.deltas = s.deltas[1:]
		budget--
	}
	if s.out.WantResync(now) {
		s.epoch = s.out.StartResync()
		s.parts, s.nextShard, s.partsSent = nil, 0, 0
		s.st.ResyncsSent++
		ms = append(ms, psync.Message{Type: psync.Begin, N: s.out.Next(), Epoch: s.epoch})
	}
	for s.out.Resyncing() && budget > 0 {
		// One table part at a time (a sixteenth): a big table is never
		// copied whole, and a tick's work stays small.
		for len(s.parts) == 0 && s.nextShard < persist.Shards {
			s.parts = s.encode(s.tab.ExportPersistenceShard(s.nextShard), now)
			s.nextShard++
		}
		if len(s.parts) == 0 {
			n := s.out.Next()
			ms = append(ms, psync.Message{Type: psync.End, N: n, Epoch: s.epoch, Parts: s.partsSent})
			s.out.EndResync(n, now)
			break
		}
		ms = append(ms, psync.Message{Type: psync.Part, N: s.out.Next(), Epoch: s.epoch, Chunk: s.parts[0]})
		s.parts = s.parts[1:]
		s.partsSent++
		budget--
	}
	return ms
}

// encode turns entries by service into chunks, counting the entries.
func (s *syncer) encode(bySvc map[string][]persist.Entry, now time.Time) [][]byte {
	var out [][]byte
	for name, es := range bySvc {
		cs, err := persist.MarshalEntries(name, es, now, chunkSize)
		if err != nil { // a service name too long for the encoding: config allows none
			s.log.Error("persistence sync cannot encode a service's entries", "service", name, "err", err)
			continue
		}
		s.st.EntriesSent += uint64(len(es))
		out = append(out, cs...)
	}
	return out
}

// send writes ms in order. A message that could not be sent is lost like
// a datagram on the wire: receivers see the gap and ask for a resync.
func (s *syncer) send(ms []psync.Message) {
	buf := make([]byte, 0, psync.MaxSize)
	for i := range ms {
		b, err := ms[i].AppendBinary(buf[:0])
		if err == nil {
			err = s.tr.Send(&wire.Packet{Generation: s.gen, Keepalive: s.keepalive, Payload: b})
		}
		s.mu.Lock()
		if err != nil {
			s.st.SendErrors++
		} else {
			s.st.Messages++
			s.st.PayloadBytes += uint64(len(b))
		}
		s.mu.Unlock()
	}
}

// receive imports what peers send until ctx ends.
func (s *syncer) receive(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-s.tr.Received():
			s.handle(p)
		}
	}
}

func (s *syncer) handle(p *wire.Packet) {
	var m psync.Message
	if err := m.UnmarshalBinary(p.Payload); err != nil {
		s.mu.Lock()
		s.st.Malformed++
		s.mu.Unlock()
		s.log.Warn("persistence sync message dropped", "peer", p.Sender, "err", err)
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	in := s.in[p.Sender]
	if in == nil {
		in = new(psync.In)
		s.in[p.Sender] = in
	}
	before := *in
	imp := in.Receive(p.Generation, &m)
	if m.Type == psync.Hello {
		s.out.Heard(p.Sender, &m)
	}
	// Tell the sender at once when our view of its table changed: lost
	// messages or a restart (it owes us a resync), or a resync completed.
	if in.Synced() != before.Synced() || in.Gaps != before.Gaps || in.Restarts != before.Restarts {
		s.helloDue = true
	}
	s.heard[p.Sender] = now
	s.mu.Unlock()
	if !imp {
		return
	}
	svc, es, err := persist.UnmarshalEntries(m.Chunk, now)
	if err != nil {
		s.mu.Lock()
		s.st.Malformed++
		s.mu.Unlock()
		s.log.Warn("persistence sync entries dropped", "peer", p.Sender, "err", err)
		return
	}
	err = s.tab.ImportPersistence(map[string][]persist.Entry{svc: es})
	s.mu.Lock()
	if err != nil {
		s.st.Unknown += uint64(len(es))
	} else {
		s.st.EntriesReceived += uint64(len(es))
	}
	s.mu.Unlock()
}

// syncPeer is one peer as the syncer sees it.
type syncPeer struct {
	Name      string
	LastHeard time.Time
	HaveTheir bool // we hold the peer's whole table
	HaveOurs  bool // the peer said it holds ours, up to what we had sent then
	Gaps      uint64
}

// syncedFrom reports whether this node holds peer's whole table.
func (s *syncer) syncedFrom(peer string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.in[peer]
	return in != nil && in.Synced()
}

// sentN returns the number of the last message sent; caughtUp(peer, n)
// says whether peer holds our table and every message up to n.
func (s *syncer) sentN() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Sent()
}

func (s *syncer) caughtUp(peer string, n uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.CaughtUp(peer, n)
}

// status returns the counters and each peer's view.
func (s *syncer) status(peers []string) (syncCounters, []syncPeer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []syncPeer
	for _, name := range peers {
		p := syncPeer{Name: name, LastHeard: s.heard[name]}
		if in := s.in[name]; in != nil {
			p.HaveTheir, p.Gaps = in.Synced(), in.Gaps
		}
		if a, ok := s.out.Acked(name); ok {
			p.HaveOurs = a.Generation == s.gen && a.Synced
		}
		ps = append(ps, p)
	}
	return s.st, ps
}

// syncLinkConfig is the heartbeat links' config moved to the sync port:
// each link's port + 1 (Heartbeat's 694 gives 695).
func syncLinkConfig(hb link.Config) link.Config {
	c := hb
	c.Links = nil
	// Bulk persistence sync must not compete with heartbeats at realtime
	// priority: a full resync would then delay them, not the other way.
	c.Realtime = false
	for _, l := range hb.Links {
		if l.Port == 0 {
			l.Port = link.DefaultPort
		}
		l.Port++
		l.Name = "sync-" + l.Name
		c.Links = append(c.Links, l)
	}
	return c
}

// openSync opens the persistence sync sockets, one per heartbeat link on
// its port + 1, and the syncer over them.
func (n *Node) openSync(hb link.Config, cfg *config.Config) error {
	sc := syncLinkConfig(hb)
	for i, l := range sc.Links {
		for _, h := range hb.Links {
			if l.Port == portOr(h.Port) {
				return fmt.Errorf("persistence sync of link %q uses port %d (its heartbeat port + 1), which link %q uses for heartbeats: give the links ports at least 2 apart", hb.Links[i].Name, l.Port, h.Name)
			}
		}
	}
	sc.Logger = n.log.With("component", "persistence-sync")
	set, err := link.Open(sc)
	if err != nil {
		return fmt.Errorf("opening the persistence sync sockets (heartbeat ports + 1): %w", err)
	}
	n.syncSet = set
	n.sync = newSyncer(n.self, n.gen, cfg.Cluster.Keepalive, set, persistTables{n.balancer, n.kernel}, nil, sc.Logger)
	return nil
}

func portOr(p uint16) uint16 {
	if p == 0 {
		return link.DefaultPort
	}
	return p
}

// syncStatus is the Sync section of status; nil without a syncer.
func (n *Node) syncStatus(cfg *config.Config) *ctl.Sync {
	if n.sync == nil {
		return nil
	}
	var peers []string
	for _, name := range cfg.Cluster.Nodes {
		if name != n.self {
			peers = append(peers, name)
		}
	}
	c, ps := n.sync.status(peers)
	st := &ctl.Sync{Links: linkStatuses(n.syncSet.Stats()), Entries: persistTables{n.balancer, n.kernel}.entries(),
		Messages: c.Messages, PayloadBytes: c.PayloadBytes, EntriesSent: c.EntriesSent,
		EntriesReceived: c.EntriesReceived, ResyncsSent: c.ResyncsSent, Malformed: c.Malformed}
	for _, p := range ps {
		st.Peers = append(st.Peers, ctl.SyncPeer{Name: p.Name, LastHeard: p.LastHeard,
			HaveTheirs: p.HaveTheir, HaveOurs: p.HaveOurs, Lost: p.Gaps})
	}
	return st
}
