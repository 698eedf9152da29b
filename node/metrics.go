package node

import (
	"maps"
	"sync"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// These methods are the snapshots the admin listener (cmd/internal/admin)
// reads; the node itself knows nothing of Prometheus.

// Services returns the balancer table of `hactl services`, or nil when no
// service is configured.
func (n *Node) Services() *proxy.Snapshot {
	if n.balancer == nil {
		return nil
	}
	snap := n.balancer.Snapshot()
	return &snap
}

// Reloads returns how many reloads (SIGHUP, hactl reload; dry runs not
// counted) ended by result: "ok" or "failed".
func (n *Node) Reloads() map[string]uint64 {
	n.reloadsMu.Lock()
	defer n.reloadsMu.Unlock()
	return maps.Clone(n.reloads)
}

func (n *Node) countReload(err error) {
	n.reloadsMu.Lock()
	defer n.reloadsMu.Unlock()
	if n.reloads == nil {
		n.reloads = map[string]uint64{}
	}
	if err != nil {
		n.reloads["failed"]++
	} else {
		n.reloads["ok"]++
	}
}

// maxRecent is how many group transitions status keeps: a few failovers of
// every group of a pair, short enough to read on one page.
const maxRecent = 32

// transitions is a bounded log of this node's group transitions, oldest
// first. Safe for concurrent use.
type transitions struct {
	mu  sync.Mutex
	buf []ctl.Transition
}

func (t *transitions) add(tr ctl.Transition) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == maxRecent {
		t.buf = append(t.buf[:0], t.buf[1:]...)
	}
	t.buf = append(t.buf, tr)
}

func (t *transitions) list() []ctl.Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]ctl.Transition(nil), t.buf...)
}
