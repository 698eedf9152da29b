package ha

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Priorities. A node advertises one per group; 0 means "do not give me this
// group" (leaving, failed), 255 means an operator asked for a takeover.
const (
	PriorityDefault   uint8 = 100 // base priority of a non-preferred node
	PriorityPreferred uint8 = 200 // base priority of the group's preferred node
	PriorityStandby   uint8 = 1   // after `hactl standby`: last resort only
	PriorityTakeover  uint8 = 255 // after `hactl takeover`: beats any owner
	PriorityMax       uint8 = 254 // highest configurable base priority
)

// MaxNodes is the largest cluster: a heartbeat says what its sender hears
// of every other node, and the wire layout holds 32 such entries
// (wire.MaxHeard).
const MaxNodes = 33

// Config is everything the Machine needs; it must be identical on every node
// except Self and Generation.
type Config struct {
	Self       string   // this node's name
	Nodes      []string // every node of the cluster, Self included (>= 2)
	Generation uint64   // incremented at every start (ha/generation)

	Keepalive time.Duration // heartbeat interval (default 100ms)
	Warntime  time.Duration // log a late heartbeat after this silence (default 2.5 × keepalive)
	Deadtime  time.Duration // declare a silent peer dead (default 4 × keepalive)
	Initdead  time.Duration // at start, wait this long for unheard peers (default 2 × deadtime)

	AutoFailback bool          // true: a better node takes its group back once stable (GroupConfig may override)
	FailbackHold time.Duration // how long a node must be stable first (default 2 × deadtime)
	FailBackoff  time.Duration // pause after a resource failure, doubled per repeat up to 16× (default 10 × keepalive)

	Groups []GroupConfig
	Checks []CheckConfig // ping nodes and track checks lowering the priority when failed
}

// GroupConfig is one resource group.
type GroupConfig struct {
	Name         string
	Preferred    string           // node with the higher base priority ("" = none)
	Priorities   map[string]uint8 // optional explicit base priority per node (1..254)
	AutoFailback *bool            // overrides Config.AutoFailback for this group (nil = cluster default)
}

// CheckConfig is a ping node or track check. While it fails, every group's
// effective priority on this node drops by Weight (never below 1).
//
// Ping marks a ping node (Heartbeat ping/ping_group, ipfail): a node that
// has ping nodes, hears no live peer and reaches none of its ping nodes is
// isolated, and holds no group (see the package doc). Track checks (Ping
// false) only lower the priority.
type CheckConfig struct {
	Name   string
	Weight uint8
	Ping   bool
}

func (c *Config) setDefaults() {
	if c.Keepalive == 0 {
		c.Keepalive = 100 * time.Millisecond
	}
	if c.Deadtime == 0 {
		c.Deadtime = 4 * c.Keepalive
	}
	if c.Warntime == 0 {
		c.Warntime = min(c.Keepalive*5/2, c.Deadtime)
	}
	if c.Initdead == 0 {
		c.Initdead = 2 * c.Deadtime
	}
	if c.FailbackHold == 0 {
		c.FailbackHold = 2 * c.Deadtime
	}
	if c.FailBackoff == 0 {
		c.FailBackoff = 10 * c.Keepalive
	}
}

func (c *Config) validate() error {
	if c.Self == "" {
		return errors.New("ha: self node name is empty")
	}
	if len(c.Nodes) < 2 {
		return fmt.Errorf("ha: cluster needs at least 2 nodes, got %d", len(c.Nodes))
	}
	if len(c.Nodes) > MaxNodes {
		return fmt.Errorf("ha: %d nodes, at most %d fit a heartbeat (it lists what the sender hears of every other node)", len(c.Nodes), MaxNodes)
	}
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		if n == "" || len(n) > 64 {
			return fmt.Errorf("ha: node name %q must be 1..64 bytes", n)
		}
		if seen[n] {
			return fmt.Errorf("ha: node %q listed twice", n)
		}
		seen[n] = true
	}
	if !seen[c.Self] {
		return fmt.Errorf("ha: self %q is not in nodes %v", c.Self, c.Nodes)
	}
	if c.Keepalive <= 0 {
		return fmt.Errorf("ha: keepalive %v must be positive", c.Keepalive)
	}
	if c.Warntime < c.Keepalive {
		return fmt.Errorf("ha: warntime %v must be at least keepalive %v", c.Warntime, c.Keepalive)
	}
	if c.Deadtime <= c.Keepalive {
		return fmt.Errorf("ha: deadtime %v must be greater than keepalive %v", c.Deadtime, c.Keepalive)
	}
	if c.Deadtime < c.Warntime {
		return fmt.Errorf("ha: deadtime %v must be at least warntime %v", c.Deadtime, c.Warntime)
	}
	if c.Initdead < 0 || c.FailbackHold < 0 || c.FailBackoff < 0 {
		return errors.New("ha: initdead, failback hold and fail backoff must not be negative")
	}
	if len(c.Groups) == 0 {
		return errors.New("ha: no groups")
	}
	if len(c.Groups) > 64 {
		return fmt.Errorf("ha: %d groups, at most 64 fit a heartbeat", len(c.Groups))
	}
	gseen := map[string]bool{}
	for _, g := range c.Groups {
		if g.Name == "" || len(g.Name) > 32 {
			return fmt.Errorf("ha: group name %q must be 1..32 bytes", g.Name)
		}
		if gseen[g.Name] {
			return fmt.Errorf("ha: group %q listed twice", g.Name)
		}
		gseen[g.Name] = true
		if g.Preferred != "" && !seen[g.Preferred] {
			return fmt.Errorf("ha: group %q: preferred node %q is not in nodes", g.Name, g.Preferred)
		}
		for n, p := range g.Priorities {
			if !seen[n] {
				return fmt.Errorf("ha: group %q: priority for unknown node %q", g.Name, n)
			}
			if p < 1 || p > PriorityMax {
				return fmt.Errorf("ha: group %q: priority %d for node %q out of range 1..%d", g.Name, p, n, PriorityMax)
			}
		}
	}
	cseen := map[string]bool{}
	for _, ch := range c.Checks {
		if ch.Name == "" || cseen[ch.Name] {
			return fmt.Errorf("ha: check name %q empty or listed twice", ch.Name)
		}
		cseen[ch.Name] = true
	}
	return nil
}

// basePriority is node's configured priority for g, before checks.
func basePriority(g *GroupConfig, node string) uint8 {
	if p, ok := g.Priorities[node]; ok {
		return p
	}
	if node == g.Preferred {
		return PriorityPreferred
	}
	return PriorityDefault
}

// failback is g's auto_failback: its own override, else the cluster's.
func (c *Config) failback(g *GroupConfig) bool {
	if g.AutoFailback != nil {
		return *g.AutoFailback
	}
	return c.AutoFailback
}

// cloneConfig copies c deeply enough that the caller's later edits (maps,
// pointers) cannot reach into a running Machine.
func cloneConfig(c Config) Config {
	c.Nodes = slices.Clone(c.Nodes)
	c.Groups = slices.Clone(c.Groups)
	for i := range c.Groups {
		g := &c.Groups[i]
		g.Priorities = maps.Clone(g.Priorities)
		if g.AutoFailback != nil {
			v := *g.AutoFailback
			g.AutoFailback = &v
		}
	}
	c.Checks = slices.Clone(c.Checks)
	return c
}
