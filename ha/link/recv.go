package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/ha/replay"
	"github.com/hapair/hapair/ha/wire"
)

// readErrorPause keeps a socket that keeps failing (not closed) from
// spinning a core; 10 ms is short against any keepalive.
const readErrorPause = 10 * time.Millisecond

// receive reads l's socket until Close, waiting in Go's network poller,
// a batch of datagrams at a time.
func (s *Set) receive(l *link) {
	b := newBatch()
	var n int
	var rerr error
	read := func(fd uintptr) bool { // made once: a closure per read would allocate
		n, rerr = b.read(int(fd))
		return rerr != unix.EAGAIN
	}
	for {
		err := l.rc.Read(read)
		if err == nil {
			err = rerr
		}
		if err != nil {
			if !s.readFailed(l, err) {
				return
			}
			continue
		}
		s.handleBatch(l, b, n)
	}
}

// readFailed counts and logs a read error and pauses, so a socket that
// keeps failing does not spin a core. It reports false when the Set is
// closing and the reader should stop.
func (s *Set) readFailed(l *link, err error) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	l.stats.readErrors.Add(1)
	s.logLimited("heartbeat read failed", "read", l.spec.Name, netip.AddrPort{}, err)
	t := s.cfg.Clock.NewTimer(readErrorPause)
	select {
	case <-s.done:
		t.Stop()
		return false
	case <-t.C():
	}
	return true
}

func (s *Set) handleBatch(l *link, b *batch, n int) {
	for i := range n {
		data, ttl, src := b.datagram(i)
		s.handle(l, data, ttl, src)
	}
}

// handle runs one datagram through the pipeline: TTL, size and MAC, cluster,
// sender, replay, deliver. A forged packet is dropped after one MAC, before
// anything is decoded or allocated; its drop is formatted only when the
// rate-limited log shows it.
func (s *Set) handle(l *link, b []byte, ttl int, src netip.AddrPort) {
	l.stats.received.Add(1)
	if ttl != gtsmTTL {
		s.drop(l, DropTTL, src, b, func() error { return fmt.Errorf("received TTL %d, want %d", ttl, gtsmTTL) })
		return
	}
	body, err := wire.Authenticate(b, s.cfg.Keyring)
	if err != nil {
		s.drop(l, openReason(err), src, b, func() error {
			_, err := wire.Open(b, s.cfg.Keyring) // the same verdict, with details
			return err
		})
		return
	}
	p := new(wire.Packet)
	if err := p.UnmarshalBinary(body); err != nil {
		s.drop(l, openReason(err), src, b, func() error { return err })
		return
	}
	if p.ClusterID != s.cfg.ClusterID {
		s.drop(l, DropWrongCluster, src, b, func() error {
			return fmt.Errorf("cluster id %d from %q, want %d", p.ClusterID, p.Sender, s.cfg.ClusterID)
		})
		return
	}
	if p.Sender == s.cfg.Self {
		s.drop(l, DropSelf, src, b, func() error {
			return fmt.Errorf("sender %q is this node: another node uses our name, or our packets loop back", p.Sender)
		})
		return
	}
	f := s.filters[p.Sender] // read-only after New
	if f == nil {
		s.drop(l, DropUnknownSender, src, b, func() error { return fmt.Errorf("sender %q is not one of nodes %q", p.Sender, s.cfg.Nodes) })
		return
	}

	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	lastGen, lastSeq, _ := f.Last()
	now := s.cfg.Clock.Now()
	v := f.Check(p.Generation, p.Seq)
	stale := false
	if v == replay.DropOldSeq || v == replay.DropDuplicate {
		// Every link carries every packet, and links differ in latency: a
		// copy that arrives after the original (or after a newer packet
		// that won the race on another link) is a duplicate, not a
		// replay, as long as it comes within a keepalive of the original.
		// A replay comes later than that, even a copy of the very last
		// packet, which must not keep a dead link or peer looking alive.
		if s.recent[p.Sender].copyOf(p.Generation, p.Seq, now, p.Keepalive) {
			v = replay.DropDuplicate
		} else {
			stale = v == replay.DropDuplicate
			v = replay.DropOldSeq
		}
	}
	if v.Accepted() {
		s.recent[p.Sender].add(p.Generation, p.Seq, now)
		delete(s.dropping, p.Sender)
	}
	if v.Accepted() || v == replay.DropDuplicate {
		// A duplicate is the copy of a packet another link delivered
		// first: it still proves this link works.
		l.stats.heard(p.Sender, now)
	}
	switch {
	case v == replay.DropDuplicate:
		s.drop(l, DropDuplicate, src, b, nil)
		return
	case stale:
		s.drop(l, DropReplay, src, b, func() error {
			return fmt.Errorf("copy of the last accepted packet from %q (generation %d seq %d) older than the duplicate window (keepalive %v)",
				p.Sender, p.Generation, p.Seq, p.Keepalive)
		})
		return
	case !v.Accepted():
		if v == replay.DropOldGeneration {
			s.dropping[p.Sender] = fmt.Sprintf("generation %d < %d", p.Generation, lastGen)
		} else {
			s.dropping[p.Sender] = fmt.Sprintf("generation %d seq %d <= seq %d", p.Generation, p.Seq, lastSeq)
		}
		s.drop(l, DropReplay, src, b, func() error {
			return fmt.Errorf("%s from %q: generation %d seq %d, last accepted generation %d seq %d",
				v, p.Sender, p.Generation, p.Seq, lastGen, lastSeq)
		})
		return
	}
	// recvMu makes this the only sender on s.in, so room seen here is room
	// at the send; counting first means a reader that got the packet sees
	// it counted.
	if len(s.in) == cap(s.in) {
		s.drop(l, DropBacklog, src, b, func() error { return fmt.Errorf("%d accepted packets are waiting for the agent", receiveBacklog) })
		return
	}
	l.stats.delivered.Add(1)
	s.in <- p
	if w := s.wake.Load(); w != nil {
		(*w)()
	}
}

// openReason maps a wire.Open error to its drop reason.
func openReason(err error) DropReason {
	switch {
	case errors.Is(err, wire.ErrShort):
		return DropShort
	case errors.Is(err, wire.ErrBadMAC):
		return DropBadMAC
	case errors.Is(err, wire.ErrVersion):
		return DropVersion
	default:
		return DropMalformed
	}
}

// drop records the peer b is attributed to (Stats.Rejected), logs
// (rate-limited per reason and source address) and then counts, so a
// counter that moved means the drop is fully handled. why makes the error
// for the log line; it is called only when the line is shown (nil: no
// error). The line names the source address, the reason and, when one is
// found, the configured node the packet comes from (rejectedPeer) as
// sender=: had's logger already carries node= for this node, and logfmt and
// JSON consumers keep only one value per key.
func (s *Set) drop(l *link, r DropReason, src netip.AddrPort, b []byte, why func() error) {
	if r != DropDuplicate { // duplicates are expected with several links
		peer := s.rejectedPeer(l, src, b)
		s.reject(peer, l, src, r)
		if ok, addr, suppressed := s.limit.allow(r.String(), src); ok {
			var err error
			if why != nil {
				err = why()
			}
			extra := []any{"reason", r.String()}
			if peer != "" {
				extra = append(extra, "sender", peer)
			}
			s.logLine("heartbeat dropped", l.spec.Name, addr, suppressed, err, extra...)
		}
	}
	l.stats.drops[r].Add(1)
}

// recentAccepted remembers when the last few packets of one peer were
// accepted, to tell a late copy from another link from a replay.
type recentAccepted struct {
	next    int
	entries [8]struct {
		gen, seq uint64
		at       time.Time
	}
}

func (r *recentAccepted) add(gen, seq uint64, at time.Time) {
	e := &r.entries[r.next%len(r.entries)]
	e.gen, e.seq, e.at = gen, seq, at
	r.next++
}

// copyOf reports whether (gen, seq) was accepted less than window ago.
func (r *recentAccepted) copyOf(gen, seq uint64, now time.Time, window time.Duration) bool {
	for _, e := range r.entries {
		if !e.at.IsZero() && e.gen == gen && e.seq == seq && now.Sub(e.at) < window {
			return true
		}
	}
	return false
}
