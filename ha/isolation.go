package ha

import (
	"fmt"
	"strings"
)

// Isolation follows Heartbeat's ipfail and keepalived's track FAULT state: a
// node that hears no peer cannot tell "my peer died" from "I was cut off".
// Ping nodes (CheckConfig.Ping) break the tie. A node that has ping nodes,
// hears no live peer and reaches none of its ping nodes is the one that was
// cut off: it advertises priority 0, acquires nothing and releases what it
// holds, so a partition in which only one side still reaches a ping node
// leaves exactly that side holding the groups.
//
// A ping node whose first result has not arrived counts as reachable, so a
// starting node is not isolated before its first probe. Nodes that hear each
// other are never isolated, whatever their ping nodes say: then the failed
// checks only lower the priorities, as for track checks.

// updateIsolation recomputes m.iso after the event and says when it flips.
func (m *Machine) updateIsolation() {
	iso := m.isolated()
	if iso == m.iso {
		return
	}
	m.iso, m.dirty = iso, true
	if iso {
		m.isoWhy = m.isolationReason()
		m.logTopic(LevelWarn, "", "isolated", m.isoWhy+": priority 0, holding no group")
		return
	}
	m.isoWhy = ""
	m.logTopic(LevelInfo, "", "isolated", "no longer isolated: "+m.contact())
	if m.peerSilent() {
		m.rejoinUntil = m.now.Add(m.cfg.Deadtime)
	}
}

// peerSilent reports whether some peer is not alive.
func (m *Machine) peerSilent() bool {
	for _, n := range m.peerNames {
		if !m.peers[n].alive {
			return true
		}
	}
	return false
}

// rejoining says why a node whose isolation a ping node ended may not
// acquire groups yet, or "". Its peers went silent because it was cut off,
// not because they died: one may hold the groups and simply not have been
// heard again yet (a ping node often answers before the first heartbeat
// after a heal). Taking over at once made a split brain and moved the group
// back to the better-ranked node with auto_failback off. So, as keepalived
// waits its master-down interval when it leaves FAULT for BACKUP, the node
// waits a deadtime for its peers, or until every one is heard.
func (m *Machine) rejoining() string {
	if !m.now.Before(m.rejoinUntil) || !m.peerSilent() {
		return ""
	}
	return fmt.Sprintf("isolation over: waiting up to deadtime %v for peers before acquiring anything", m.cfg.Deadtime)
}

// isolated reports whether this node has ping nodes, every one of them has
// failed, and no peer is alive (a leaving peer is not alive).
func (m *Machine) isolated() bool {
	if m.pings == 0 || m.pingsFailed < m.pings {
		return false
	}
	for _, n := range m.peerNames {
		if m.peers[n].alive {
			return false
		}
	}
	return true
}

// isolationReason names every failed ping node, in configuration order.
func (m *Machine) isolationReason() string {
	var why []string
	for _, c := range m.checkList {
		if c.ping {
			why = append(why, c.why())
		}
	}
	return fmt.Sprintf("isolated: no peer heard and every ping node unreachable (%s)", strings.Join(why, "; "))
}

// contact says what ended an isolation: a live peer or a ping node answering.
func (m *Machine) contact() string {
	for _, n := range m.peerNames {
		if m.peers[n].alive {
			return fmt.Sprintf("peer %s heard", n)
		}
	}
	for _, c := range m.checkList {
		if c.ping && !c.failed {
			return fmt.Sprintf("ping node %s reachable again", c.name)
		}
	}
	return "no ping node configured" // unreachable: isolation needs a ping node
}

// why is a failed check's reason, led by its name. Checkers such as ha/ping
// already start their reasons with the check's name; others do not.
func (c *check) why() string {
	switch {
	case c.reason == "":
		return c.name + ": failed"
	case strings.HasPrefix(c.reason, c.name):
		return c.reason
	}
	return c.name + ": " + c.reason
}
