package node

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/internal/ctl"
)

// watcher is the owner watching what it holds (issue 9's general rule):
// rtnetlink link and address events, not polling. A held VIP whose
// interface goes down or away is a resource failure: the group is handed
// over (ha.EventFailed). A held VIP removed behind hapair's back is added
// back at once (the vip keeper repairs it). Each event is a log line and
// an entry in the status timeline.
type watcher struct {
	n *Node

	mu       sync.Mutex
	reported map[string]string // group -> failure reported since its last start
}

// watch subscribes through the VIPs' netlink handle; a dry or fake kernel
// has nothing to watch.
func (n *Node) watch(ctx context.Context) error {
	k, ok := n.env.vipKernel.(*vip.Netlink)
	if !ok {
		return nil
	}
	w := &watcher{n: n, reported: map[string]string{}}
	return k.Watch(ctx, w.link, w.addrGone, func(err error) {
		n.log.Error("watching what this node holds stopped; VIPs are still refreshed and repaired every second", "err", err)
	})
}

func (w *watcher) link(l vip.Link) {
	for group, vips := range w.n.groups.vipsByGroup() {
		for _, v := range vips {
			reason := v.LinkChanged(l)
			if reason == "" {
				continue
			}
			if !w.report(group, reason) {
				break
			}
			w.n.log.Warn("resource failed: handing the group over", "group", group, "vip", v.Name(), "iface", l.Name, "reason", reason)
			w.n.recent.add(ctl.Transition{Time: time.Now(), Group: group, State: "resource-failed", Reason: reason})
			// The agent's queue may be full for a moment; the watcher
			// must keep reading events meanwhile.
			go w.n.agent.ResourceFailed(group, reason)
			break
		}
	}
}

// report records reason for group and reports whether it is new: the
// kernel sends several link messages for one change.
func (w *watcher) report(group, reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	started, _, _ := w.n.groups.timeline(group)
	key := started.String() + " " + reason
	if w.reported[group] == key {
		return false
	}
	w.reported[group] = key
	return true
}

func (w *watcher) addrGone(a vip.Addr) {
	for group, vips := range w.n.groups.vipsByGroup() {
		for _, v := range vips {
			if v.AddrRemoved(a) {
				reason := "address " + a.Prefix.String() + " removed while held; adding it back"
				w.n.log.Warn("vip removed behind hapair's back", "group", group, "vip", v.Name(), "reason", reason)
				w.n.recent.add(ctl.Transition{Time: time.Now(), Group: group, State: "repair", Reason: reason})
			}
		}
	}
}

// serviceFailed is the balancer's OnFailure: a service whose listener
// failed fails every group whose balancer resource activates it.
func (n *Node) serviceFailed(service, reason string) {
	if !n.running.Load() { // not started: no group is held, and n.agent may still be being set
		return
	}
	for _, g := range n.config().Groups {
		for _, r := range g.Resources {
			if r.Balancer == nil || !slices.Contains(r.Balancer.Services, service) {
				continue
			}
			n.log.Warn("resource failed: handing the group over", "group", g.Name, "service", service, "reason", reason)
			n.recent.add(ctl.Transition{Time: time.Now(), Group: g.Name, State: "resource-failed", Reason: reason})
			n.agent.ResourceFailed(g.Name, reason)
		}
	}
}
