package link

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of every link's counters, safe to keep and encode
// (for hactl status and metrics); it shares nothing with the Set.
type Stats struct {
	Links []LinkStats
	// Dropping maps each peer whose latest packets were all dropped as
	// replays to the cause, e.g. "generation 1 < 3" (a peer that lost its
	// state directory, or an attacker replaying recordings); a peer
	// leaves it with its next accepted packet. Status shows it as
	// "dropping lb2: generation 1 < 3"; `hactl peer reset` is the remedy
	// for a peer whose generation went back.
	Dropping map[string]string
	// Rejected holds, per peer node with at least one dropped packet
	// attributed to it (by its ucast address, or the sender its packet
	// names), the latest such drop and their count: a peer heard only
	// through these counts as dead (see Rejection).
	Rejected map[string]Rejection
}

// LinkStats are one link's counters. Once the link is idle, Received equals
// Delivered plus the sum of Drops (a datagram is counted as received before
// it is judged).
type LinkStats struct {
	Name       string
	Kind       string // KindMcast or KindUcast
	Sent       uint64 // datagrams written (one per destination)
	SendErrors uint64
	Received   uint64 // datagrams read
	Delivered  uint64 // passed every check and handed to the agent
	ReadErrors uint64
	Drops      map[DropReason]uint64 // non-zero reasons only
	// LastHeard is when each peer node was last heard on this link with
	// a packet that passed every check (duplicates included). A peer is
	// absent until first heard.
	LastHeard map[string]time.Time
	// Heard counts, per peer node, the packets that passed every check on
	// this link, duplicates of packets another link delivered first
	// included: heartbeats received per link and peer.
	Heard map[string]uint64
	// SentTo counts, per peer node, the heartbeats written that address
	// it: one per unicast datagram to its address, and every multicast
	// datagram for every peer (so the sum can exceed Sent).
	SentTo map[string]uint64
}

type linkStats struct {
	sent, sendErrors, received, delivered, readErrors atomic.Uint64
	drops                                             [numDropReasons]atomic.Uint64

	mu        sync.Mutex
	lastHeard map[string]time.Time
	heardN    map[string]uint64
	sentTo    map[string]*atomic.Uint64 // set at open, never changed
}

func (st *linkStats) heard(peer string, now time.Time) {
	st.mu.Lock()
	st.lastHeard[peer] = now
	st.heardN[peer]++
	st.mu.Unlock()
}

// Stats returns a snapshot of every link's counters, in Config.Links order.
func (s *Set) Stats() Stats {
	out := Stats{Links: make([]LinkStats, len(s.links))}
	for i, l := range s.links {
		ls := LinkStats{
			Name:       l.spec.Name,
			Kind:       l.spec.Kind,
			Sent:       l.stats.sent.Load(),
			SendErrors: l.stats.sendErrors.Load(),
			Received:   l.stats.received.Load(),
			Delivered:  l.stats.delivered.Load(),
			ReadErrors: l.stats.readErrors.Load(),
			Drops:      map[DropReason]uint64{},
		}
		for r := range numDropReasons {
			if n := l.stats.drops[r].Load(); n > 0 {
				ls.Drops[r] = n
			}
		}
		l.stats.mu.Lock()
		ls.LastHeard = maps.Clone(l.stats.lastHeard)
		ls.Heard = maps.Clone(l.stats.heardN)
		ls.SentTo = make(map[string]uint64, len(l.stats.sentTo))
		for peer, n := range l.stats.sentTo {
			ls.SentTo[peer] = n.Load()
		}
		l.stats.mu.Unlock()
		out.Links[i] = ls
	}
	s.recvMu.Lock()
	out.Dropping = maps.Clone(s.dropping)
	s.recvMu.Unlock()
	out.Rejected = s.rejections()
	return out
}

// ResetPeer forgets peer's replay state, so its next packet is accepted
// whatever its (generation, seq): the operator's remedy (`hactl peer
// reset`) for a peer whose state directory was lost while its clock was
// behind. Only an operator may decide it (see replay.Filter.Reset). It
// returns an error for a peer that is not one of Config.Nodes.
func (s *Set) ResetPeer(peer string) error {
	f := s.filters[peer]
	if f == nil {
		return fmt.Errorf("cannot reset the replay state of %q: it is not one of nodes %q", peer, s.cfg.Nodes)
	}
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	f.Reset()
	*s.recent[peer] = recentAccepted{}
	delete(s.dropping, peer)
	return nil
}

// Up reports whether peer was heard on this link within deadtime before
// now: the per-link up/down state for status output (the agent decides
// peer liveness across all links itself).
func (ls LinkStats) Up(peer string, now time.Time, deadtime time.Duration) bool {
	t, ok := ls.LastHeard[peer]
	return ok && now.Sub(t) <= deadtime
}
