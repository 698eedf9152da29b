package ha

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/field"
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

// MaxHealthy is the largest healthy-real count a heartbeat carries (a
// 16-bit field of wire.Readiness); larger counts are sent as MaxHealthy.
const MaxHealthy = 1<<16 - 1

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

	// Timers; zero takes the default of WithDefaults.
	Keepalive time.Duration // heartbeat interval (default 100ms)
	Warntime  time.Duration // log a late heartbeat after this silence (default halfway to deadtime)
	Deadtime  time.Duration // declare a silent peer dead (default 4 × keepalive)
	Initdead  time.Duration // at start, wait this long for unheard peers (default max(2 × deadtime, 3s))

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
	// FailbackGate: the caller feeds EventReadiness for this group (it
	// has a balancer), and auto_failback takes it back from a healthy
	// owner only once this node is ready (package doc, "Failback
	// readiness"). Every node advertises its healthy count for the group,
	// so the returning node knows the owner's.
	FailbackGate bool
	// FailbackMinHealthy is how many reals must pass their checks here
	// before a gated failback; 0 means as many as pass on the owner.
	FailbackMinHealthy int
	// MakeBeforeBreak: two nodes may hold the group at once (its addresses
	// are announced to routers by BGP, not claimed by ARP, and every
	// holder serves them), so in a move the owner releases only once its
	// successor holds the group (Master: resources started, routes
	// announced), not as soon as it starts. The router then has both next
	// hops for a moment instead of none, as a MetalLB or kube-vip BGP user
	// expects of a failback. Both holding it after a claim seen while
	// starting is a handover, not a split brain.
	MakeBeforeBreak bool
	// HandoverOverlap (MakeBeforeBreak): how long the owner keeps the
	// group after it first sees its successor hold it (default
	// DefaultHandoverOverlap). The successor's routes were sent when it
	// reported itself held, but no router says when it installed them; a
	// BGP session that has just come up delays its first UPDATE by the
	// router's delayed ACK (Nagle, about 40ms, seen in the e2e lab).
	HandoverOverlap time.Duration
}

// DefaultHandoverOverlap is GroupConfig.HandoverOverlap's default: ten
// times the delayed-ACK wait a new BGP session's first UPDATE can take.
const DefaultHandoverOverlap = 500 * time.Millisecond

// LeaveHandoverWait bounds how long a leaving node (EventLeave) keeps a
// MakeBeforeBreak group for a successor to hold it: a peer's bgp start
// waits up to 5 s for its health gate and BGP sessions (ha/bgp's
// DefaultSessionWait), and the caller bounds the whole leave (had: 30 s).
// Past it the group stops anyway, as a leave without make-before-break.
const LeaveHandoverWait = 10 * time.Second

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

// Timing defaults, as DESIGN.md gives them: a 100ms heartbeat, a peer dead
// after 4 heartbeats lost on every link (the loss rate DESIGN.md's 5% test
// survives), a warning halfway there.
const (
	DefaultKeepalive = 100 * time.Millisecond
	// DefaultDeadtimeBeats is deadtime in keepalives when deadtime is unset.
	DefaultDeadtimeBeats = 4
	// MinInitdead is the floor of the default initdead: Heartbeat advises
	// twice deadtime, and a node that just booted needs a few seconds more
	// for its switch port and links to come up before it hears anyone.
	MinInitdead = 3 * time.Second
	// DefaultCheckWeight is a ping node's or track check's penalty: more
	// than the 100 between PriorityPreferred and PriorityDefault, so a node
	// that lost its ping node yields even its preferred groups to a healthy
	// peer.
	DefaultCheckWeight uint8 = 150
)

// WithDefaults returns c with every unset (zero) timer at its default:
//
//	Keepalive    100ms
//	Deadtime     4 × Keepalive
//	Warntime     halfway between Keepalive and Deadtime
//	Initdead     the larger of 2 × Deadtime and MinInitdead (3s)
//	FailbackHold 2 × Deadtime
//	FailBackoff  10 × Keepalive
//
// Unset timers derive from the ones set, so setting Keepalive alone gives a
// consistent set.
func (c Config) WithDefaults() Config {
	if c.Keepalive == 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.Deadtime == 0 {
		c.Deadtime = DefaultDeadtimeBeats * c.Keepalive
	}
	if c.Warntime == 0 {
		c.Warntime = (c.Keepalive + c.Deadtime) / 2
	}
	if c.Initdead == 0 {
		c.Initdead = max(2*c.Deadtime, MinInitdead)
	}
	if c.FailbackHold == 0 {
		c.FailbackHold = 2 * c.Deadtime
	}
	if c.FailBackoff == 0 {
		c.FailBackoff = 10 * c.Keepalive
	}
	return c
}

// Derivation is how WithDefaults fills one unset timer: the timers it is
// derived from, in the order to blame them, and how, in words.
type Derivation struct {
	From []string
	How  string
}

// Derived is WithDefaults' rules for the timers it derives, by their
// Validate names, so that an error about an unset timer can name the
// written one that caused it (internal/config) in this package's words.
var Derived = map[string]Derivation{
	"warntime":      {[]string{"deadtime", "keepalive"}, "halfway between keepalive and deadtime"},
	"deadtime":      {[]string{"keepalive"}, fmt.Sprintf("%d×keepalive", DefaultDeadtimeBeats)},
	"initdead":      {[]string{"deadtime", "keepalive"}, fmt.Sprintf("2×deadtime, at least %v", MinInitdead)},
	"failback_hold": {[]string{"deadtime", "keepalive"}, "2×deadtime"},
	"fail_backoff":  {[]string{"keepalive"}, "10×keepalive"},
}

// Validate reports every problem in c that holds on all nodes alike (Self
// and Generation are New's to check), after WithDefaults. Each problem is a
// *field.Error naming the setting in Heartbeat's terms: "keepalive",
// "deadtime", "nodes[1]", "groups[0].priorities.lb2", "checks[2]". The
// timers' rules are Heartbeat's ha.cf orders, strict (timerRules: keepalive <
// warntime < deadtime, deadtime > 2 × keepalive, initdead >= deadtime);
// the rest is what a heartbeat packet carries: keepalive in
// whole microseconds up to wire.MaxKeepalive, at most wire.MaxGroups
// groups, names within wire.MaxSender and wire.MaxGroupName bytes.
func (c Config) Validate() error { return c.ValidateWith() }

// ValidateWith is Validate for a config whose timers named in unknown
// ("keepalive", "deadtime", ...) were written but could not be read, and
// are 0 here: their own errors are the config reader's, so the rules
// comparing another timer with them, or with a timer WithDefaults
// derives from them, are not checked (a deadtime of 150ms is not wrong
// beside a keepalive written "abc").
func (c Config) ValidateWith(unknown ...string) error {
	set := c.setTimers()
	for _, u := range unknown {
		set[u] = true // written, though its value is not known
	}
	c = c.WithDefaults()
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, field.Errorf(path, format, args...)) }
	if len(c.Nodes) < 2 {
		bad("nodes", "want at least 2 nodes, found %d", len(c.Nodes))
	}
	if len(c.Nodes) > MaxNodes {
		bad("nodes", "%d nodes, at most %d fit a heartbeat (it lists what the sender hears of every other node)", len(c.Nodes), MaxNodes)
	}
	seen := map[string]bool{}
	for i, n := range c.Nodes {
		// Node names match a host name ignoring case, as Heartbeat's
		// do (internal/config's Self), so two that differ only in case
		// would be one host.
		first := slices.IndexFunc(c.Nodes[:i], func(m string) bool { return strings.EqualFold(m, n) })
		switch msg := checkName(n, wire.MaxSender); {
		case msg != "":
			bad(field.Index("nodes", i), "%s", msg)
		case seen[n]:
			errs = append(errs, field.Repeated(field.Index("nodes", i), field.Index("nodes", slices.Index(c.Nodes, n)), "node %q is listed again", n))
		case first >= 0:
			errs = append(errs, field.Repeated(field.Index("nodes", i), field.Index("nodes", first), "node %q differs from %q only in case: node names match host names ignoring case, as Heartbeat's do", n, c.Nodes[first]))
		}
		seen[n] = true
	}
	c.validateTiming(set, unknown, bad)
	if len(c.Groups) == 0 {
		bad("groups", "want at least one group: a node with none has nothing to hold")
	}
	if len(c.Groups) > wire.MaxGroups {
		bad(field.Index("groups", wire.MaxGroups), "group %d of %d: a heartbeat packet carries at most %d groups", wire.MaxGroups+1, len(c.Groups), wire.MaxGroups)
	}
	gseen := map[string]int{}
	for i, g := range c.Groups {
		path := field.Index("groups", i)
		if msg := checkName(g.Name, wire.MaxGroupName); msg != "" {
			bad(path+".name", "%s", msg)
		} else if j, dup := gseen[g.Name]; dup {
			errs = append(errs, field.Repeated(path+".name", field.Index("groups", j)+".name", "group name %q is used again", g.Name))
		}
		gseen[g.Name] = i
		if g.Preferred != "" && !seen[g.Preferred] {
			bad(path+".preferred", "%q is not a node in nodes %q", g.Preferred, c.Nodes)
		}
		if g.FailbackMinHealthy < 0 || g.FailbackMinHealthy > MaxHealthy {
			bad(path+".failback_min_healthy", "%d is out of range 0..%d", g.FailbackMinHealthy, MaxHealthy)
		}
		for _, n := range slices.Sorted(maps.Keys(g.Priorities)) {
			switch p := g.Priorities[n]; {
			case !seen[n]:
				errs = append(errs, field.KeyErrorf(path+".priorities."+n, "%q is not a node in nodes %q", n, c.Nodes))
			case p < 1 || p > PriorityMax:
				bad(path+".priorities."+n, "%d is out of range 1..%d", p, PriorityMax)
			}
		}
	}
	cseen := map[string]bool{}
	for i, ch := range c.Checks {
		if ch.Name == "" || cseen[ch.Name] {
			bad(field.Index("checks", i), "check name %q is empty or listed twice", ch.Name)
		}
		cseen[ch.Name] = true
		if err := CheckWeight(int(ch.Weight)); err != nil {
			bad(field.Index("checks", i)+".weight", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// CheckWeight reports a ping node's or track check's weight outside
// 0..PriorityMax: subtracted from a priority of at most PriorityMax, a
// larger one could not mean more. It owns the rule and its wording for the
// config and Validate.
func CheckWeight(w int) error {
	if w < 0 || w > int(PriorityMax) {
		return fmt.Errorf("%d is out of range 0..%d", w, PriorityMax)
	}
	return nil
}

// checkName returns why name is not a valid node or group name ("" when it
// is): 1..max bytes of [A-Za-z0-9._-], since names go into packets, logs,
// file names and address labels.
func checkName(name string, max int) string {
	if name == "" || len(name) > max {
		return fmt.Sprintf("%q: want 1..%d characters of A-Z a-z 0-9 . _ -", name, max)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return fmt.Sprintf("%q: want 1..%d characters of A-Z a-z 0-9 . _ -", name, max)
		}
	}
	return ""
}

// PreferencePriority is the base priority of the node at rank (0-based) of
// a group's ordered preference list: PriorityPreferred for the first, one
// less for each next one, so every listed node ranks above the unlisted
// ones (PriorityDefault) and a group moves down the list as nodes fail,
// like keepalived's descending VRRP priorities. Ranks past the list's room
// (MaxNodes) stay above PriorityDefault.
func PreferencePriority(rank int) uint8 {
	rank = min(max(rank, 0), MaxNodes)
	return PriorityPreferred - uint8(rank)
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
