package admin

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hapair/hapair/internal/groupstate"
	"github.com/hapair/hapair/internal/version"
)

// namespace prefixes every metric, as node_exporter's "node_" does.
const namespace = "hapair"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

// The metrics, one Desc each. Labels name the field's standard terms:
// link and peer as in ha.cf, service and real as in ldirectord.cf.
var (
	descBuildInfo    = desc("build_info", "Always 1; the labels say which hapair build runs.", "version", "revision", "goversion")
	descStartTime    = desc("start_time_seconds", "When had started, in seconds since the Unix epoch.")
	descMaintenance  = desc("maintenance", "1 while this node is in maintenance (frozen), else 0.")
	descSent         = desc("heartbeat_datagrams_sent_total", "Heartbeat datagrams written on a link (one per destination).", "link")
	descSentTo       = desc("heartbeats_sent_total", "Heartbeats sent to a peer on a link (a multicast datagram counts for every peer).", "link", "peer")
	descSendErrors   = desc("heartbeat_send_errors_total", "Heartbeat datagrams that failed to send on a link.", "link")
	descDatagrams    = desc("heartbeat_datagrams_received_total", "Datagrams read on a heartbeat link, before any check.", "link")
	descHeard        = desc("heartbeats_received_total", "Heartbeats from a peer that passed every check on a link (duplicates of another link's copy included).", "link", "peer")
	descDrops        = desc("heartbeat_drops_total", "Datagrams dropped on a heartbeat link, by reason (ttl, short, bad-mac, malformed, version, wrong-cluster, unknown-sender, self, replay, duplicate).", "link", "reason")
	descPeerUp       = desc("peer_up", "1 while a peer is alive (heard on any link within deadtime), else 0.", "peer")
	descPeerLinkUp   = desc("peer_link_up", "1 while a peer is heard on a link within deadtime, else 0.", "peer", "link")
	descPeerHeard    = desc("peer_last_heard_timestamp_seconds", "When a peer was last heard, in seconds since the Unix epoch.", "peer")
	descGroupState   = desc("group_state", "1 for the state this node's copy of a group is in (master, standby, starting, stopping, failed), 0 for the others.", "group", "state")
	descGroupOwner   = desc("group_owner", "1 for the node that owns a group as this node sees it (owner \"\" when none).", "group", "owner")
	descGroupSince   = desc("group_state_since_timestamp_seconds", "When a group entered its current state on this node, in seconds since the Unix epoch.", "group")
	descTakeover     = desc("takeover_duration_seconds", "Takeover (kind=takeover: a peer was lost) and switchover (kind=switchover: planned) timelines: each phase (vip_bound, first_garp, first_packet, first_connection) measured from the moment this node began to take the group; detection: from the previous owner's last heartbeat to that moment.", "group", "kind", "phase")
	descSplitSeen    = desc("split_brain_seen_total", "Times a peer was seen holding a group this node holds (split brain).")
	descSplitResolv  = desc("split_brain_resolved_total", "Split brains resolved: of two holders, one released the group while both heard each other.")
	descPeerDeaths   = desc("peer_deaths_total", "Times a peer was declared dead (silent for deadtime on every link).")
	descReloads      = desc("reloads_total", "Config reloads by result (ok, failed).", "result")
	descServiceUp    = desc("service_active", "1 while a virtual service accepts traffic on this node, else 0.", "service")
	descServicePool  = desc("service_pool", "1 for the pool a virtual service sends new connections to (primary, backup, fallback, none), 0 for the others.", "service", "pool")
	descServiceConns = desc("service_connections_total", "Client connections (tcp), flows (udp) or requests (http) a virtual service took.", "service")
	descServiceOpen  = desc("service_open_connections", "Open client connections (tcp), flows (udp) or requests in flight (http) of a virtual service.", "service")
	descServiceRef   = desc("service_refused_total", "Client connections or datagrams refused because the service was not active on this node.", "service")
	descServiceNoRl  = desc("service_no_real_total", "Client connections, flows or requests with no real to send them to.", "service")
	descRealUp       = desc("real_up", "1 while a real's health check passes (or it is not checked), else 0.", "service", "real", "pool")
	descRealWeight   = desc("real_weight", "A real's effective weight: its configured weight, 0 while down (quiescent) or draining.", "service", "real", "pool")
	descRealActive   = desc("real_active_connections", "A real's active connections, like ipvsadm's ActiveConn.", "service", "real", "pool")
	descRealInactive = desc("real_inactive_connections", "A real's inactive connections, like ipvsadm's InActConn.", "service", "real", "pool")
	descRealChecks   = desc("real_checks_total", "Completed health checks of a real, by result (ok, failed).", "service", "real", "pool", "result")
	descRealCheckDur = desc("real_check_duration_seconds_total", "Time spent in a real's completed health checks; divided by real_checks_total, the mean check latency.", "service", "real", "pool")
	descServiceBytes = desc("service_bytes_total", "Bytes a virtual service relayed, by direction: in (client to real) and out (real to client), like ipvsadm --stats (HTTP mode: request and response bodies; TCP: each direction added when it ends).", "service", "direction")
	descRealBytes    = desc("real_bytes_total", "Bytes relayed to (in) and from (out) a real, like ipvsadm --stats' InBytes and OutBytes (HTTP mode: bodies only).", "service", "real", "pool", "direction")
	descRealSched    = desc("real_connections_total", "Connections, flows or requests scheduled to a real, like ipvsadm --stats' Conns (connect attempts retried elsewhere included).", "service", "real", "pool")
	descRealLastChk  = desc("real_last_check_duration_seconds", "How long a real's last completed health check took.", "service", "real", "pool")
)

var servicePools = []string{"primary", "backup", "fallback", "none"}

// collector is a prometheus.Collector over the Source's snapshots: every
// scrape reads them afresh, so no value is ever stale or double-kept.
type collector struct {
	src       Source
	takeovers *takeovers
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuildInfo, descStartTime, descMaintenance, descSent, descSentTo, descSendErrors,
		descDatagrams, descHeard, descDrops, descPeerUp, descPeerLinkUp, descPeerHeard, descGroupState,
		descGroupOwner, descGroupSince, descTakeover, descSplitSeen, descSplitResolv, descPeerDeaths, descReloads, descServiceUp, descServicePool,
		descServiceConns, descServiceOpen, descServiceRef, descServiceNoRl, descRealUp, descRealWeight,
		descRealActive, descRealInactive, descRealChecks, descRealCheckDur, descRealLastChk, descRealSched, descServiceBytes, descRealBytes} {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Status()
	c.takeovers.observe(st)
	reloads := c.src.Reloads()

	ver, rev := version.Build()
	gauge(ch, descBuildInfo, 1, ver, rev, runtime.Version())
	if !st.Started.IsZero() {
		gauge(ch, descStartTime, float64(st.Started.UnixNano())/1e9)
	}
	gauge(ch, descMaintenance, bool01(st.Maintenance))

	for _, l := range st.Links {
		counter(ch, descSent, l.Sent, l.Name)
		for peer, n := range l.SentTo {
			counter(ch, descSentTo, n, l.Name, peer)
		}
		counter(ch, descSendErrors, l.SendErrors, l.Name)
		counter(ch, descDatagrams, l.Received, l.Name)
		for peer, n := range l.Heard {
			counter(ch, descHeard, n, l.Name, peer)
		}
		for r, n := range l.Drops {
			counter(ch, descDrops, n, l.Name, r)
		}
	}
	for _, p := range st.Peers {
		gauge(ch, descPeerUp, bool01(p.Alive), p.Name)
		if !p.LastHeard.IsZero() {
			gauge(ch, descPeerHeard, float64(p.LastHeard.UnixNano())/1e9, p.Name)
		}
		for link, up := range p.Links {
			gauge(ch, descPeerLinkUp, bool01(up), p.Name, link)
		}
	}
	states := groupstate.Names()
	for _, g := range st.Groups {
		for _, s := range states {
			gauge(ch, descGroupState, bool01(g.State == s), g.Name, s)
		}
		gauge(ch, descGroupOwner, 1, g.Name, g.Owner)
		if !g.Since.IsZero() {
			gauge(ch, descGroupSince, float64(g.Since.UnixNano())/1e9, g.Name)
		}
	}
	for k, h := range c.takeovers.snapshot() {
		ch <- prometheus.MustNewConstHistogram(descTakeover, h.count, h.sum, h.cumulative(), k.group, k.kind, k.phase)
	}
	counter(ch, descSplitSeen, st.Events["split-brain"])
	counter(ch, descSplitResolv, st.Events["split-brain-resolved"])
	counter(ch, descPeerDeaths, st.Events["dead"])
	for _, result := range []string{"ok", "failed"} {
		counter(ch, descReloads, reloads[result], result)
	}
	if snap := c.src.Services(); snap != nil {
		for _, s := range snap.Services {
			c.collectService(ch, s)
		}
	}
}
