package ctl

import (
	"encoding/json"
	"time"

	"github.com/hapair/hapair/internal/groupstate"
)

// SchemaVersion is the version of the JSON documents `hactl status -o json`
// and `hactl services -o json` print and the admin listener serves at
// /api/v1/status and /api/v1/services. It changes when a field changes
// meaning or goes away; new fields keep it.
const SchemaVersion = 1

// Status is the answer to VerbStatus: what `hactl status` prints and what
// scripts read with `-o json`. had fills it from the agent's, the links'
// and the balancer's snapshots.
type Status struct {
	Version     int           `json:"version"` // SchemaVersion
	Node        string        `json:"node"`
	Cluster     string        `json:"cluster"`
	ClusterID   uint32        `json:"cluster_id"`
	Generation  uint64        `json:"generation"`
	Maintenance bool          `json:"maintenance"`
	Started     time.Time     `json:"started"`
	Peers       []PeerStatus  `json:"peers"`
	Groups      []GroupStatus `json:"groups"`
	Links       []LinkStatus  `json:"links"`
	Balancer    *Balancer     `json:"balancer,omitempty"`
	// Sync is the persistence sync: absent when no service has persistence.
	Sync *Sync `json:"sync,omitempty"`
	// Events counts the ownership machine's remarks by topic since start:
	// split-brain (seen), split-brain-resolved, dead, alive, leaving, late,
	// isolated, one-way.
	Events map[string]uint64 `json:"events,omitempty"`
	// Recent are this node's last group transitions, oldest first.
	Recent []Transition `json:"recent,omitempty"`
}

// Transition is one change of a group's state on this node, with the
// machine's reason (what keepalived's notify scripts and Heartbeat's logs
// show).
type Transition struct {
	Time   time.Time `json:"time"`
	Group  string    `json:"group"`
	State  string    `json:"state"`
	Reason string    `json:"reason"`
}

// Services is the answer to VerbServices as scripts read it: `hactl
// services -o json` and the admin listener's /api/v1/services. Services
// holds proxy.Snapshot's service list ([] without services).
type Services struct {
	Version  int             `json:"version"` // SchemaVersion
	Services json.RawMessage `json:"services"`
}

// PeerStatus is one other node as this node sees it.
type PeerStatus struct {
	Name       string    `json:"name"`
	Alive      bool      `json:"alive"`
	LastHeard  time.Time `json:"last_heard,omitzero"`
	Generation uint64    `json:"generation,omitempty"`
	Leaving    bool      `json:"leaving,omitempty"`
	// Links maps a link name to whether this peer was heard on it recently.
	Links map[string]bool `json:"links,omitempty"`
	// OneWay says the peer is alive but does not hear us, e.g. "lb2 has
	// not heard us for 1.2s on any link" (one-way loss; "" otherwise).
	OneWay string `json:"one_way,omitempty"`
	// Dropping is set while every recent packet of the peer was dropped as
	// a replay, with the cause: "generation 1 < 3" (its state directory
	// was lost; `hactl peer reset PEER` is the remedy).
	Dropping string `json:"dropping,omitempty"`
	// Rejected is set while the peer counts as dead but its recent
	// packets were dropped for another reason than replay, with the
	// reason, where they came from and the remedy: "bad-mac from
	// 198.18.0.12:694 on mcast0: bad authentication: ...". Both nodes may
	// then hold the same groups.
	Rejected string `json:"rejected,omitempty"`
}

// GroupStatus is one resource group.
type GroupStatus struct {
	Name      string `json:"name"`
	Owner     string `json:"owner"`     // "" when nobody owns it
	State     string `json:"state"`     // this node's state: one of groupstate.Names()
	Preferred string `json:"preferred"` // first node of Preference
	// Preference is the ordered list of nodes that should own the group.
	Preference []string `json:"preference,omitempty"`
	// Priorities is every node's base priority for the group (before
	// ping and track penalties), preference order first.
	Priorities []NodePriority `json:"priorities,omitempty"`
	Priority   int            `json:"priority"` // this node's effective priority
	// Mode is "active-active" for a group every healthy node holds at
	// once (Owner is then this node while it holds it); "" otherwise.
	Mode   string    `json:"mode,omitempty"`
	Reason string    `json:"reason"` // why the last transition happened
	Since  time.Time `json:"since,omitzero"`
	// VIPs are the group's virtual addresses (CIDR), in config order.
	VIPs []string `json:"vips,omitempty"`
	// LastTakeover is the timeline of the last time this node took the group.
	LastTakeover *Timeline `json:"last_takeover,omitempty"`
}

// NodePriority is one node's base priority for a group (1..254).
type NodePriority struct {
	Node     string `json:"node"`
	Priority int    `json:"priority"`
}

// Timeline records how the last takeover went, step by step: when the
// previous owner was last heard (the outage began no earlier), when this
// node began starting the group, when its resources ran (VIP bound), when
// the first gratuitous ARP left, and when the first client connection was
// scheduled.
type Timeline struct {
	PeerLastHeard time.Time `json:"peer_last_heard,omitzero"`
	Started       time.Time `json:"started,omitzero"`
	Running       time.Time `json:"running,omitzero"`
	FirstARP      time.Time `json:"first_arp,omitzero"`
	// FirstPacket is when the first packet for the group's VIPs arrived
	// after the takeover: until then the owner re-announces them with
	// backoff (traffic confirmation).
	FirstPacket time.Time `json:"first_packet,omitzero"`
	// FirstConnection is when the group's balancer first scheduled a
	// client connection after the start (zero until one comes, or
	// without a balancer resource).
	FirstConnection time.Time `json:"first_connection,omitzero"`
}

// LinkStatus is one heartbeat link with its counters.
type LinkStatus struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Sent       uint64            `json:"sent"`
	SendErrors uint64            `json:"send_errors,omitempty"`
	Received   uint64            `json:"received"`        // datagrams read, before any check
	Drops      map[string]uint64 `json:"drops,omitempty"` // by reason (ha/link's DropReason names)
	Heard      map[string]uint64 `json:"heard,omitempty"` // packets per peer that passed every check
	// SentTo counts heartbeats addressed to each peer (a multicast one
	// counts for every peer).
	SentTo map[string]uint64 `json:"sent_to,omitempty"`
}

// Sync is the persistence sync (the balancer's client-IP affinity
// entries sent to peers) with its links and its view of each peer.
type Sync struct {
	Links           []LinkStatus `json:"links"` // the sync sockets, heartbeat ports + 1
	Peers           []SyncPeer   `json:"peers"`
	Entries         int          `json:"entries"` // affinity entries held here
	Messages        uint64       `json:"messages"`
	PayloadBytes    uint64       `json:"payload_bytes"` // message bytes sent, without packet header and MAC
	EntriesSent     uint64       `json:"entries_sent"`
	EntriesReceived uint64       `json:"entries_received"`
	ResyncsSent     uint64       `json:"resyncs_sent"`
	Malformed       uint64       `json:"malformed,omitempty"` // authenticated messages that did not decode
}

// SyncPeer is one peer's persistence sync state.
type SyncPeer struct {
	Name      string    `json:"name"`
	LastHeard time.Time `json:"last_heard,omitzero"`
	// HaveTheirs: this node holds the peer's whole table (a full resync
	// arrived complete and nothing was lost since).
	HaveTheirs bool `json:"have_theirs"`
	// HaveOurs: the peer's last hello said it holds this node's table.
	HaveOurs bool   `json:"have_ours"`
	Lost     uint64 `json:"lost,omitempty"` // messages from the peer lost (each costs a resync)
}

// Balancer summarises the embedded load balancer for `hactl status`.
type Balancer struct {
	Services   int `json:"services"`
	Active     int `json:"active"` // services accepting traffic on this node
	RealsUp    int `json:"reals_up"`
	RealsTotal int `json:"reals_total"`
}

// Master reports whether node holds group according to s, and whether the
// group exists. With group "" it reports whether node holds every group.
func (s *Status) Master(group string) (master, found bool) {
	master = true
	for _, g := range s.Groups {
		if group != "" && g.Name != group {
			continue
		}
		found = true
		if g.Owner != s.Node || g.State != groupstate.Master {
			master = false
		}
	}
	return master && found, found
}
