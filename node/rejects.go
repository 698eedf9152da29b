package node

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/ha/link"
)

// This file says clearly when a peer is heard only through heartbeats this
// node drops: Heartbeat logs "Bad authentication" and keepalived "bad
// authentication" for each such packet, and ha/link logs each (reason,
// source) once per 10 s. But a node that drops every packet of its peer
// counts it dead and takes its groups, so with a wrong authkeys secret on
// one node both hold the VIPs; the drop lines alone do not say that.

// rejectTick is how often the links' rejections are looked at.
const rejectTick = time.Second

// rejectRepeat is how often the split-brain line repeats while it lasts,
// for whoever reads the log from the middle.
const rejectRepeat = time.Minute

// rejectWatch follows, per peer, an episode of rejected-only heartbeats:
// the peer is not alive, and packets attributed to it were dropped within
// window.
type rejectWatch struct {
	window   time.Duration
	episodes map[string]*rejectEpisode
}

type rejectEpisode struct {
	reason  link.DropReason
	holding bool      // the split-brain line was logged for this episode
	logged  time.Time // when it was, for rejectRepeat
}

// rejectLine is one log line step asks for.
type rejectLine struct {
	level slog.Level
	msg   string
	attrs []any
}

func newRejectWatch(deadtime time.Duration) *rejectWatch {
	return &rejectWatch{window: deadtime + rejectTick, episodes: map[string]*rejectEpisode{}}
}

// step compares the links' rejections with which peers are alive and the
// groups this node holds (failover groups only: an active-active group is
// held everywhere on purpose) and returns the lines to log: a warning when
// an episode starts, an error naming the groups when this node holds any
// during one (again every rejectRepeat), and an info line when it ends.
func (w *rejectWatch) step(now time.Time, rejected map[string]link.Rejection, alive map[string]bool, held []string) []rejectLine {
	var out []rejectLine
	peers := mapsKeys(rejected, w.episodes)
	slices.Sort(peers)
	for _, peer := range peers {
		rj, seen := rejected[peer]
		ep := w.episodes[peer]
		active := seen && !alive[peer] && now.Sub(rj.At) <= w.window
		switch {
		case !active && ep != nil:
			delete(w.episodes, peer)
			why := "no more dropped heartbeats from it"
			if alive[peer] {
				why = "its heartbeats are accepted again"
			}
			out = append(out, rejectLine{slog.LevelInfo, fmt.Sprintf("peer %s: %s", peer, why), []any{"peer", peer}})
			continue
		case !active:
			continue
		case ep == nil:
			ep = &rejectEpisode{reason: rj.Reason}
			w.episodes[peer] = ep
			out = append(out, rejectLine{slog.LevelWarn,
				fmt.Sprintf("peer %s is heard only through heartbeats this node drops (%s): %s", peer, rj.Reason, rejectHint(peer, rj.Reason)),
				rejectAttrs(peer, rj)})
		}
		if len(held) > 0 && (!ep.holding || now.Sub(ep.logged) >= rejectRepeat) {
			ep.holding, ep.logged = true, now
			out = append(out, rejectLine{slog.LevelError,
				fmt.Sprintf("split brain likely: peer %s counts as dead here, but it sends heartbeats this node drops (%s), so it may hold %s too, as this node does: %s",
					peer, rj.Reason, strings.Join(held, ", "), rejectHint(peer, rj.Reason)),
				append(rejectAttrs(peer, rj), "groups", held)})
		}
	}
	return out
}

func rejectAttrs(peer string, rj link.Rejection) []any {
	return []any{"peer", peer, "reason", rj.Reason.String(), "link", rj.Link, "addr", rj.Addr.String(), "dropped", rj.Count}
}

// rejectHint says what a drop reason means for a configured peer and what
// to do about it.
func rejectHint(peer string, r link.DropReason) string {
	switch r {
	case link.DropBadMAC:
		return "bad authentication: they verify with no key of our authkeys file; give every node the same authkeys file"
	case link.DropWrongCluster:
		return "they carry another cluster id; give every node the same cluster.id"
	case link.DropVersion:
		return "they use a wire version this had does not speak; run the same hapair version on every node"
	case link.DropTTL:
		return "they arrive with a TTL below 255, so they crossed a router (GTSM, RFC 5082); heartbeat links must be on one network segment"
	case link.DropReplay:
		return fmt.Sprintf("they are older than the last one accepted (its generation went back: was its state directory lost?); if so, run hactl peer reset %s", peer)
	case link.DropSelf:
		return fmt.Sprintf("they come from its configured address but name this node as their sender: %s runs with our name (check its host name or had --node)", peer)
	case link.DropUnknownSender:
		return "they come from its configured address but name a sender that is not one of cluster.nodes; give every node the same cluster.nodes"
	}
	return "they do not decode; run the same hapair version on every node"
}

// mapsKeys returns the keys of a and b, each once.
func mapsKeys[A, B any](a map[string]A, b map[string]B) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// watchRejects runs rejectWatch over the heartbeat links until ctx ends.
func (n *Node) watchRejects(ctx context.Context) {
	w := newRejectWatch(n.config().Cluster.Deadtime)
	t := time.NewTicker(rejectTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		alive := map[string]bool{}
		for _, p := range n.agent.Status().Peers {
			alive[p.Name] = p.Alive
		}
		for _, l := range w.step(time.Now(), n.links.Stats().Rejected, alive, n.heldFailover()) {
			n.log.Log(ctx, l.level, l.msg, l.attrs...)
		}
	}
}

// heldFailover names the groups whose resources run here, active-active
// groups left out.
func (n *Node) heldFailover() []string {
	var held []string
	for _, g := range n.config().Groups {
		if !g.ActiveActive && n.groups.held(g.Name) {
			held = append(held, g.Name)
		}
	}
	return held
}

// rejectedStatus is a peer's ctl.PeerStatus.Rejected: set while it is not
// alive and packets attributed to it were dropped within rejectWatch's
// window, for a reason other than replay (Dropping says that one).
func rejectedStatus(peer string, alive bool, rejected map[string]link.Rejection, now time.Time, deadtime time.Duration) string {
	rj, ok := rejected[peer]
	if !ok || alive || rj.Reason == link.DropReplay || now.Sub(rj.At) > deadtime+rejectTick {
		return ""
	}
	return fmt.Sprintf("%s from %s on %s: %s", rj.Reason, rj.Addr, rj.Link, rejectHint(peer, rj.Reason))
}
