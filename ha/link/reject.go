package link

import (
	"net/netip"
	"time"

	"github.com/hapair/hapair/ha/wire"
)

// Rejection is the latest of the packets a Set dropped from one configured
// peer: a peer whose packets all fail authentication (another authkeys
// secret), carry another cluster id or wire version, arrive off-link or
// replay an older generation counts as dead, and both nodes may then hold
// the same groups. The caller, which knows whether the peer is alive and
// what this node holds, decides whether that is the case (node watches it).
type Rejection struct {
	Link   string         // the link it arrived on (Spec.Name)
	Addr   netip.AddrPort // its source address
	Reason DropReason
	At     time.Time // when the latest one arrived
	Count  uint64    // rejected packets attributed to the peer since the Set opened
}

// rejectedPeer names the configured peer a dropped datagram b from src on
// l comes from: on a ucast link, the node whose configured address src is;
// otherwise the node b names as its sender, read without authenticating it
// (wire.ClaimedSender: good enough to name whose packets fail, never to
// trust them). "" when neither names another node. It does not allocate.
func (s *Set) rejectedPeer(l *link, src netip.AddrPort, b []byte) string {
	from := src.Addr().Unmap()
	if l.spec.Kind == KindUcast {
		for name, a := range l.spec.Peers {
			if a == from && name != s.cfg.Self {
				return name
			}
		}
	}
	claimed := wire.ClaimedSender(b)
	for _, n := range s.cfg.Nodes {
		if n != s.cfg.Self && string(claimed) == n {
			return n
		}
	}
	return ""
}

// reject records a drop of reason r attributed to peer (Stats.Rejected).
// Duplicates and a full backlog say nothing wrong about the peer and are
// not recorded; neither is a drop no peer is named for.
func (s *Set) reject(peer string, l *link, src netip.AddrPort, r DropReason) {
	if peer == "" || r == DropDuplicate || r == DropBacklog {
		return
	}
	now := s.cfg.Clock.Now()
	s.rejectMu.Lock()
	defer s.rejectMu.Unlock()
	rj := s.rejected[peer]
	if rj == nil { // a name in Nodes that is not a peer: Self, filtered above
		return
	}
	rj.Link, rj.Addr, rj.Reason, rj.At = l.spec.Name, src, r, now
	rj.Count++
}

// rejections copies the peers with a rejected packet, for Stats.
func (s *Set) rejections() map[string]Rejection {
	s.rejectMu.Lock()
	defer s.rejectMu.Unlock()
	out := map[string]Rejection{}
	for name, rj := range s.rejected {
		if rj.Count > 0 {
			out[name] = *rj
		}
	}
	return out
}
