package ctl

import "time"

// Status is the answer to VerbStatus: what `hactl status` prints and what
// scripts read with `-o json`. had fills it from the agent's, the links'
// and the balancer's snapshots.
type Status struct {
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
}

// GroupStatus is one resource group.
type GroupStatus struct {
	Name      string    `json:"name"`
	Owner     string    `json:"owner"` // "" when nobody owns it
	State     string    `json:"state"` // this node's state: master, standby, starting, stopping, failed
	Preferred string    `json:"preferred"`
	Priority  int       `json:"priority"` // this node's effective priority
	Reason    string    `json:"reason"`   // why the last transition happened
	Since     time.Time `json:"since,omitzero"`
	// LastTakeover is the timeline of the last time this node took the group.
	LastTakeover *Timeline `json:"last_takeover,omitempty"`
}

// Timeline records how the last takeover went, step by step: when the
// previous owner was last heard (the outage began no earlier), when this
// node began starting the group, when its resources ran (VIP bound), and
// when the first gratuitous ARP left.
type Timeline struct {
	PeerLastHeard time.Time `json:"peer_last_heard,omitzero"`
	Started       time.Time `json:"started,omitzero"`
	Running       time.Time `json:"running,omitzero"`
	FirstARP      time.Time `json:"first_arp,omitzero"`
}

// LinkStatus is one heartbeat link with its counters.
type LinkStatus struct {
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Sent     uint64            `json:"sent"`
	Received uint64            `json:"received"`
	Drops    map[string]uint64 `json:"drops,omitempty"`
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
		if g.Owner != s.Node || g.State != "master" {
			master = false
		}
	}
	return master && found, found
}
