package config

import (
	"github.com/hapair/hapair/ha/bgp"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/internal/fwd"
	"net/netip"
	"regexp"
	"time"
)

// Defaults of the files had reads and writes. Every other default belongs
// to the package that owns the setting (ha, ha/link, ha/vip, ha/ping,
// ha/script, proxy, proxy/check, internal/ctl); this package reads it
// from there and never repeats it.
const (
	DefaultPath     = "/etc/hapair/had.toml"
	DefaultAuthkeys = "/etc/hapair/authkeys"
	DefaultStateDir = "/var/lib/hapair"
)

// Config is a validated had.toml. Every field is filled: defaults are
// applied (from their owning packages), durations are positive, addresses
// parsed, names cross-checked.
type Config struct {
	File     string    // path the config was read from, for messages
	Cluster  Cluster   // [cluster]
	GARP     GARP      // [garp]: defaults for every vip resource
	Links    []Link    // [[link]]: at least one
	Pings    []Ping    // [[ping]]
	Tracks   []Track   // [[track]]
	Groups   []Group   // [[group]]
	Services []Service // [[service]]
	Admin    Admin     // [admin]
	BGP      *BGP      // [bgp]; nil when absent

	// authkeysAt is where cluster.authkeys is written (zero when it is
	// not), for AuthkeysError.
	authkeysAt Pos
	// warnings are Warnings'.
	warnings []string
}

// Warnings are the settings of a valid file that make no difference but
// are the habits of the tools hapair replaces (ldirectord's quiescent=yes
// without persistence, ipvsadm weights under rr), one
// "FILE:LINE:COL: key.path: message" each; had logs them at start and
// the check prints them.
func (c *Config) Warnings() []string { return c.warnings }

// BGP is the [bgp] table: this cluster's BGP speaker settings (ha/bgp,
// run by a local BIRD 2), used by the groups' bgp resources.
type BGP struct {
	ASN uint32 // the nodes' AS number, 1..4294967295 but 23456 (required)
	// Nodes is each node's address on the neighbours' network, with its
	// prefix length (required for every node): the BGP router id and the
	// network every neighbour must be on (BFD single hop).
	Nodes     map[string]netip.Prefix
	Neighbors []bgp.Neighbor // at least one
	HoldTime  time.Duration  // BGP hold time (default bgp.DefaultHoldTime, 3s)
	BFD       bool           // BFD on every session (default true)
}

// Admin is the [admin] table: the optional HTTP listener with Prometheus
// /metrics, the read-only status page and /api/v1 (cmd/internal/admin).
type Admin struct {
	// Listen is the listener's IP:PORT, like "127.0.0.1:9694"; invalid
	// (the zero value) when not configured: the listener is off.
	Listen netip.AddrPort
	// AllowRemote lets Listen be a non-loopback address. The listener has
	// no authentication, so serving it beyond the host is an explicit
	// choice (default false).
	AllowRemote bool
}

// Cluster is the [cluster] table: who is in the cluster and its timing, the
// way Heartbeat's ha.cf set it.
type Cluster struct {
	Name string // cluster name, for logs and status (required)
	// ID separates clusters sharing a LAN, like a VRRP VRID: packets with
	// another id are dropped (required, 1..255).
	ID uint32
	// Nodes are the node names, as `uname -n` or --node gives them
	// (required, at least 2, unique, 1..64 bytes of [A-Za-z0-9._-]; rules of
	// ha.Config.Validate).
	Nodes []string
	// Authkeys is the authkeys file path (default /etc/hapair/authkeys); a
	// relative path is taken from the config file's directory.
	Authkeys string
	// The timers' defaults and rules are ha.Config's, their one owner
	// (ha.Config.WithDefaults and Validate; README's configuration
	// section lists the defaults).
	Keepalive time.Duration
	Warntime  time.Duration
	Deadtime  time.Duration
	Initdead  time.Duration
	// AutoFailback: true makes groups return to their preferred node once it
	// has been back for FailbackHold (default false, Heartbeat's
	// "auto_failback off": a failover is rare and worth a look first).
	AutoFailback bool
	FailbackHold time.Duration
	// StateDir keeps the generation counter (default /var/lib/hapair).
	StateDir string
	// Socket is the hactl control socket (default ctl.DefaultSocket).
	Socket string
	// Notify is a program run on every transition with the group, the new
	// state and the reason as arguments, like keepalived's notify (optional;
	// an absolute path).
	Notify string
	// Port is the heartbeat UDP port for links that set none (default
	// link.DefaultPort, 694).
	Port uint16
	// Realtime runs the heartbeat path (link reads, sends, deadtime
	// decisions) on SCHED_RR threads and locks had's memory, as
	// Heartbeat's `realtime on` (its default) and keepalived's
	// vrrp_rt_priority and vrrp_no_swap (default true: a busy or swapping
	// machine must not look dead to its peer; see internal/realtime).
	Realtime bool
}

// GARP is the gratuitous ARP (and IPv6 unsolicited NA) schedule for a VIP,
// modelled on keepalived's garp_master_* settings and IPaddr2's send_arp.
// Defaults, meanings and rules are ha/vip's (vip.DefaultSchedule,
// vip.Schedule): 0 means none everywhere (no gap, no second burst, no
// refresh).
type GARP struct {
	Count       int           // packets in each burst (default 5)
	Interval    time.Duration // gap between packets of a burst (default 200ms)
	SecondBurst time.Duration // from takeover to a second burst (default 5s; 0: none)
	Refresh     time.Duration // re-announce period while held (default 0: off)
	Form        string        // "both" (default), "request" or "reply" (vip.Form)
}

// Link is one [[link]]: a heartbeat path. Every packet goes on every link.
type Link struct {
	// Name is used in stats and logs (default kind and index among links of
	// that kind: "mcast0", "ucast1").
	Name string
	Kind string // LinkKindMcast or LinkKindUcast (required)
	// Interface is where an mcast link joins its group and sends (required
	// for mcast); for ucast it optionally binds the socket to a device.
	Interface string
	Group     netip.Addr // mcast group (required for mcast, an IPv4 multicast address)
	Port      uint16     // UDP port (default cluster.port)
	// Peers maps every cluster node to its IPv4 address on this link
	// (ucast, required; the own entry is the bind address). Rules of
	// link.Spec.Validate.
	Peers map[string]netip.Addr
}

// The values of Link.Kind, ha/link's names, for the readers of a config
// (cmd/internal/importer) that may not import ha/link.
const (
	LinkKindMcast = link.KindMcast
	LinkKindUcast = link.KindUcast
)

// Ping is one [[ping]] node: a tie-breaker address, like Heartbeat's ping
// directive with ipfail. A node that cannot reach it loses Weight priority.
type Ping struct {
	Address  netip.Addr    // address probed with ICMP echo (required)
	Interval time.Duration // between probes (default ping.DefaultInterval, 1s)
	Timeout  time.Duration // per probe, at most Interval (default ping.TimeoutFor(Interval))
	// Weight is subtracted from every group's priority while the ping node
	// is unreachable, 0..254 (default ha.DefaultCheckWeight, 150).
	Weight int
}

// Track is one [[track]] script: like a ping node, but any program; exit 0 is
// healthy.
type Track struct {
	Name     string        // for logs and status (required, unique)
	Script   string        // program, an absolute path (required)
	Args     []string      // its arguments
	Interval time.Duration // between runs (default ping.DefaultInterval, 1s)
	Timeout  time.Duration // per run, at most Interval (default ping.TimeoutFor(Interval))
	Weight   int           // priority penalty while failing (default ha.DefaultCheckWeight, see Ping.Weight)
}

// Group is one [[group]]: a haresources line. Resources start in order and
// stop in reverse.
type Group struct {
	Name string // 1..32 bytes of [A-Za-z0-9._-], unique (required)
	// Preference is the ordered list of nodes that should own the group,
	// best first (required; `preferred = "lb1"` is a one-element list).
	Preference []string
	// Priorities is the base priority of every cluster node for this group,
	// 1..254 (default ha.PreferencePriority of its rank in Preference: 200
	// for the first, 199 for the second, ...; ha.PriorityDefault, 100, for
	// the nodes not listed; the file may set some or all).
	Priorities map[string]uint8
	// AutoFailback overrides cluster.auto_failback for this group.
	AutoFailback bool
	// FailbackMinHealthy is how many of the balancer's reals must pass
	// their checks on a returning node before auto_failback hands it the
	// group back (0..65535; default 0: as many as pass on the owner). Only
	// a group with a balancer resource may set it (ha: Failback readiness).
	FailbackMinHealthy int
	// Notify overrides cluster.notify for this group (optional).
	Notify string
	// ActiveActive (mode = "active-active"): every healthy node holds
	// the group at once (routers spread flows over them with ECMP); the
	// group needs a bgp resource and is not in the ownership machine.
	// The default, "active-passive", is one owner at a time.
	ActiveActive bool
	Resources    []Resource // in start order
}

// The values of a group's mode; `hactl status` shows ModeActiveActive too.
const (
	ModeActivePassive = "active-passive" // one owner at a time (the default)
	ModeActiveActive  = "active-active"  // every healthy node at once
)

// Resource kinds.
const (
	KindVIP      = "vip"
	KindBalancer = "balancer"
	KindIPVSSync = "ipvs-sync"
	KindScript   = "script"
	// KindConntrackSync runs conntrackd for the nat and dr services.
	KindConntrackSync = "conntrack-sync"
	// KindBGP announces addresses to BGP neighbours (ha/bgp).
	KindBGP = "bgp"
)

// Resource is one element of a group's resources: exactly one of the pointers
// is set, the one Kind names.
type Resource struct {
	Kind     string
	VIP      *VIP
	Balancer *Balancer
	IPVSSync *IPVSSync
	Script   *Script
	// ConntrackSync is set for KindConntrackSync.
	ConntrackSync *ConntrackSync
	// BGP is set for KindBGP.
	BGP *BGPResource
}

// BGPResource is a bgp resource: the addresses it binds on lo and
// announces as host routes to [bgp]'s neighbours.
type BGPResource struct {
	Addresses []netip.Addr
}

// ConntrackSync replicates kernel connection state with conntrackd (FTFW
// over UDP) between the two nodes, for nat and dr services.
type ConntrackSync struct {
	Interface string // the sync link, usually a heartbeat link's (required)
	// Addresses maps each node to its IPv4 address on Interface, given as
	// `addresses = [...]` in [cluster].nodes order (required; two nodes:
	// conntrackd's FTFW UDP has one destination).
	Addresses map[string]netip.Addr
	Port      uint16 // UDP port (default 3780, conntrackd's customary one)
}

// VIP is a virtual address, IPaddr2 style.
type VIP struct {
	Prefix netip.Prefix // address with its prefix length, "198.18.0.100/24" (required)
	// Interface is the device to add it to (optional: default the device of
	// the route to the address, found when the resource starts).
	Interface string
	// Label is the full address label, "eth0:web", as ip-address(8) takes
	// it (optional, IPv4 only; needs Interface; vip.MaxLabel bytes). No
	// label by default, as IPaddr2.
	Label string
	GARP  GARP // [garp] with this resource's garp = { ... } overrides applied
}

// Balancer activates the named services on the group's owner.
type Balancer struct {
	Services []string // names of [[service]] entries (required, at least one)
}

// IPVSSync is the kernel IPVS connection-sync daemon, LVSSyncDaemonSwap style.
type IPVSSync struct {
	Role      string // "master" or "backup": the role on the owner (required)
	Interface string // multicast interface for sync traffic (required)
	SyncID    uint8  // sync id, 0..255 (default 0)
}

// Script is a Heartbeat/LSB resource script run with start, stop or status.
type Script struct {
	// Path is the program as written: an absolute path, or a bare name
	// looked up in script.DefaultDirs when the resource is built, as
	// Heartbeat looked in resource.d. Written Heartbeat style,
	// "name::arg1::arg2", the file's value also carries Args.
	Path    string
	Args    []string
	Timeout time.Duration // per start/stop/status run (default script.DefaultTimeout, 20s)
}

// Service is one [[service]]: an ldirectord virtual= block.
type Service struct {
	Name string // unique (required)
	// Method is the forwarding method, named as ipvsadm names them: proxy
	// (default: hapair's userspace l4/http balancer), nat (LVS-NAT "masq":
	// kernel DNAT; the reals route replies through a gateway VIP of the
	// group) or dr (direct routing "gate": MAC rewrite at ingress; each
	// real holds the VIP on a loopback with arp_ignore=1, arp_announce=2).
	// internal/fwd owns the names.
	Method fwd.Method
	// Interface is where the VIP's packets arrive, for dr (required there).
	Interface string
	// Listen is the virtual address and port (required). The IP must be a VIP
	// of some group, a loopback or an unspecified address.
	Listen netip.AddrPort
	// Protocol, Mode, Scheduler, ConnectTimeout, IdleTimeout and the reals'
	// weight take proxy.ServiceConfig's defaults (WithDefaults) and rules.
	Protocol  string // "tcp" (default) or "udp"
	Mode      string // "l4" (default) or "http" (tcp only)
	Scheduler string // one of sched.Names(); default wrr (ldirectord's)
	// Persistent is the client-IP affinity timeout, like ipvsadm -p (default
	// 0 = off).
	Persistent time.Duration
	// Quiescent gives a failed real weight 0 instead of removing it, so
	// persistent clients keep their real until it is back (default false).
	Quiescent bool
	// Fallback is the sorry server used when every real is down (optional).
	Fallback netip.AddrPort
	// FallbackHost is the host name the fallback was written with ("" for
	// an address); see Real.Host.
	FallbackHost   string
	ConnectTimeout time.Duration // default 5s (l4.DefaultConnectTimeout)
	// IdleTimeout closes idle connections or UDP flows (default 15m for tcp
	// l4, 60s for udp and for http keep-alive; see proxy.DefaultTCPIdle).
	IdleTimeout time.Duration
	// RequestTimeout and BodyTimeout bound an HTTP request's head and body
	// (http mode only; default l7.DefaultRequestTimeout 10s and
	// l7.DefaultBodyTimeout 30s, HAProxy's usual timeout http-request and
	// timeout client).
	RequestTimeout, BodyTimeout time.Duration
	// MaxConn bounds the service's client connections, like HAProxy's
	// maxconn (tcp only; 0: no per-service bound, the balancer-wide one
	// derived from the descriptor limit still applies).
	MaxConn int
	// MaxFlows bounds a udp service's flow table (udp only; default
	// l4.DefaultMaxFlows, 16384); when full, the longest-idle flows are
	// evicted.
	MaxFlows int
	Check    Check
	Reals    []Real    // primaries (at least one, unless Fallback is set)
	Backups  []Real    // used while a monitor fails or every real is down
	Monitors []Monitor // Zeus-style monitors that switch to Backups
}

// Check is how every real of a service is probed. Types, the keys each
// uses, defaults and rules are proxy/check's (check.Types, check.Spec):
// a key the type does not use is an error.
type Check struct {
	// Type is one of check.Types(), N being a positive integer; default
	// check.DefaultType (connect) for tcp; udp services must name one that
	// probes UDP (sip or external). "" when the file says type = "off":
	// no checks, every real up (ldirectord's checktype=on).
	Type     string
	Request  string         // HTTP path (default "/"; "index.html" is "/index.html", as ldirectord)
	Host     string         // HTTP Host header (default the real's address)
	Receive  *regexp.Regexp // regexp the response must match
	Status   int            // expected HTTP status (default 200)
	Port     int            // port probed on each real's address, 1..65535 (default 0: the real's own; HAProxy's check port)
	Program  string         // program to run, an absolute path
	Args     []string       // its arguments
	Interval time.Duration  // between probes of one real (default 2s)
	Timeout  time.Duration  // one probe, at most Interval (default 1s or Interval if shorter)
	Rise     int            // successes in a row to become healthy (default 2, HAProxy's)
	Fall     int            // failures in a row to become unhealthy (default 3, HAProxy's)
}

// Real is one backend.
type Real struct {
	// Address is where the real is: "198.18.1.10:80", the port defaulting
	// to the service's. Written as a host name ("web1", "web1:8080", as
	// ldirectord and Zeus take them), it is the name's address when the
	// file was loaded: names are resolved at start and at every reload
	// (first IPv4 address, else the first); a name that does not resolve
	// is an error at check and start, and at a reload keeps its last
	// address (node.Reload logs a warning).
	Address netip.AddrPort
	Host    string // the host name written, "" for an address
	Weight  int    // 0..65535; 0 = quiescent (default proxy.DefaultRealWeight, 1)
	// Request and Receive override the service check's for this real, as
	// ldirectord's per-real "request", "receive" (optional; only for check
	// types that use them; Request normalised like the service's).
	Request string
	Receive *regexp.Regexp
}

// Monitor is a Zeus-style monitor program: exit status non-zero or FAIL on
// stdout moves traffic to the service's backups.
type Monitor struct {
	Script   string        // program, an absolute path (required)
	Args     []string      // its arguments
	Interval time.Duration // between runs (default check.DefaultMonitorInterval, 5s)
	Timeout  time.Duration // per run, at most Interval (default Interval)
}

// Preferred is the first node of g's preference list ("" when none).
func (g *Group) Preferred() string {
	if len(g.Preference) == 0 {
		return ""
	}
	return g.Preference[0]
}
