package config

import (
	"net/netip"
	"regexp"
	"time"
)

// Defaults that are not derived from other keys. Each one's reason is on the
// field it fills.
const (
	DefaultPath      = "/etc/hapair/had.toml"
	DefaultAuthkeys  = "/etc/hapair/authkeys"
	DefaultStateDir  = "/var/lib/hapair"
	DefaultSocket    = "/run/hapair/had.sock"
	DefaultPort      = 694 // IANA ha-cluster, Heartbeat's udpport
	DefaultKeepalive = 200 * time.Millisecond
	DefaultScriptDir = "/etc/hapair/resource.d"
)

// Config is a validated had.toml. Every field is filled: defaults are
// applied, durations are positive, addresses parsed, names cross-checked.
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
	// (required, at least 2, unique, 1..64 bytes of [A-Za-z0-9._-]).
	Nodes []string
	// Authkeys is the authkeys file path (default /etc/hapair/authkeys); a
	// relative path is taken from the config file's directory.
	Authkeys string
	// Keepalive is the heartbeat interval (default 200ms).
	Keepalive time.Duration
	// Warntime is when a late heartbeat is logged (default halfway between
	// keepalive and deadtime). keepalive < warntime < deadtime.
	Warntime time.Duration
	// Deadtime is how long a silent peer lives on (default 5×keepalive, so a
	// peer is declared dead only after 5 heartbeats in a row are lost on every
	// link). Must be at least 2×keepalive: one lost packet must never kill.
	Deadtime time.Duration
	// Initdead is how long a starting node waits for peers before taking any
	// group (default the larger of 2×deadtime and 5s: Heartbeat's advice, and
	// time for a switch port to come up after boot). At least deadtime.
	Initdead time.Duration
	// AutoFailback: true makes groups return to their preferred node once it
	// has been back for FailbackHold (default false, Heartbeat's
	// "auto_failback off": a failover is rare and worth a look first).
	AutoFailback bool
	// FailbackHold is how long a returning preferred node must stay up before
	// it takes its groups back (default 2×deadtime, so a node that flaps
	// within two deadtimes never pulls the VIP back and forth).
	FailbackHold time.Duration
	// StateDir keeps the generation counter (default /var/lib/hapair).
	StateDir string
	// Socket is the hactl control socket (default /run/hapair/had.sock).
	Socket string
	// Notify is a program run on every transition with the group, the new
	// state and the reason as arguments, like keepalived's notify (optional).
	Notify string
	// Port is the heartbeat UDP port for links that set none (default 694).
	Port uint16
}

// GARP is the gratuitous ARP (and IPv6 unsolicited NA) schedule for a VIP,
// modelled on keepalived's garp_master_* settings and IPaddr2's send_arp.
type GARP struct {
	// Count is the packets in each burst (default 5, IPaddr2's ARP_REPEAT:
	// one lost packet must not leave a switch pointing at the old owner).
	Count int
	// Interval is the gap between packets of a burst (default 200ms,
	// IPaddr2's ARP_INTERVAL_MS; 0 sends the burst back to back).
	Interval time.Duration
	// SecondBurst is when a second burst follows the first, for switches
	// and hosts that ignored the first while a link renegotiated (default 5s,
	// keepalived's garp_master_delay; 0 disables).
	SecondBurst time.Duration
	// Refresh re-announces while the VIP is held (default 0 = off, as
	// keepalived's garp_master_refresh; set it where switches age out
	// entries of silent hosts).
	Refresh time.Duration
	// Form is "both" (default), "request" or "reply": hosts differ in which
	// gratuitous ARP form they honour (RFC 5227 §3 prefers requests; some
	// switches learn only from replies), so both is the safe default.
	Form string
}

// Link is one [[link]]: a heartbeat path. Every packet goes on every link.
type Link struct {
	// Name is used in stats and logs (default kind and index among links of
	// that kind: "mcast0", "ucast1").
	Name string
	Kind string // "mcast" or "ucast" (required)
	// Interface is where an mcast link joins its group and sends (required
	// for mcast); for ucast it optionally binds the socket to a device.
	Interface string
	Group     netip.Addr // mcast group (required for mcast, a multicast address)
	Port      uint16     // UDP port (default cluster.port)
	// Peers maps every cluster node to its address on this link (ucast,
	// required; the own entry is the bind address).
	Peers map[string]netip.Addr
}

// Ping is one [[ping]] node: a tie-breaker address, like Heartbeat's ping
// directive with ipfail. A node that cannot reach it loses Weight priority.
type Ping struct {
	Address  netip.Addr    // address probed with ICMP echo (required)
	Interval time.Duration // between probes (default 1s)
	Timeout  time.Duration // per probe, at most Interval (default 1s or Interval if shorter)
	// Weight is subtracted from every group's priority while the ping node
	// is unreachable (default 150: more than the 100 between a preferred
	// node's default 200 and another node's 100, so a node that lost its
	// ping node yields even its preferred groups to a healthy peer).
	Weight int
}

// Track is one [[track]] script: like a ping node, but any program; exit 0 is
// healthy.
type Track struct {
	Name     string        // for logs and status (required, unique)
	Script   string        // program path (required)
	Args     []string      // its arguments
	Interval time.Duration // between runs (default 2s)
	Timeout  time.Duration // per run, at most Interval (default 1s or Interval if shorter)
	Weight   int           // priority penalty while failing (default 150, see Ping.Weight)
}

// Priority defaults: the preferred node of a group outranks the others by
// 100, and a failed ping or track (weight 150) outweighs that.
const (
	DefaultPreferredPriority = 200
	DefaultOtherPriority     = 100
)

// Group is one [[group]]: a haresources line. Resources start in order and
// stop in reverse.
type Group struct {
	Name      string // 1..32 bytes of [A-Za-z0-9._-], unique (required)
	Preferred string // node that owns the group when all is well (required)
	// Priorities is the base priority of every cluster node for this group,
	// 1..254 (default 200 for the preferred node and 100 for the others;
	// the file may set some or all).
	Priorities map[string]uint8
	// AutoFailback overrides cluster.auto_failback for this group.
	AutoFailback bool
	// Notify overrides cluster.notify for this group (optional).
	Notify    string
	Resources []Resource // in start order
}

// Resource kinds.
const (
	KindVIP      = "vip"
	KindBalancer = "balancer"
	KindIPVSSync = "ipvs-sync"
	KindScript   = "script"
	// KindConntrackSync runs conntrackd for the nat and dr services.
	KindConntrackSync = "conntrack-sync"
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
	// Label is the address label, "eth0:web" (optional; must start with the
	// interface name and fit the kernel's 15 bytes).
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
	// Path is the program; a name without '/' is looked up in
	// /etc/hapair/resource.d, as Heartbeat looked in resource.d. Written
	// Heartbeat style, "name::arg1::arg2", it carries arguments.
	Path    string
	Args    []string
	Timeout time.Duration // per start/stop/status run (default 20s)
}

// Service is one [[service]]: an ldirectord virtual= block.
type Service struct {
	Name string // unique (required)
	// Method is the forwarding method, named as ipvsadm names them: proxy
	// (default: hapair's userspace l4/http balancer), nat (LVS-NAT "masq":
	// kernel DNAT; the reals route replies through a gateway VIP of the
	// group) or dr (direct routing "gate": MAC rewrite at ingress; each
	// real holds the VIP on a loopback with arp_ignore=1, arp_announce=2).
	Method string
	// Interface is where the VIP's packets arrive, for dr (required there).
	Interface string
	// Listen is the virtual address and port (required). The IP must be a VIP
	// of some group, a loopback or an unspecified address.
	Listen   netip.AddrPort
	Protocol string // "tcp" (default) or "udp"
	Mode     string // "l4" (default) or "http" (tcp only)
	// Scheduler is rr, wrr (default, ldirectord's), lc, wlc or sh.
	Scheduler string
	// Persistent is the client-IP affinity timeout, like ipvsadm -p (default
	// 0 = off).
	Persistent time.Duration
	// Quiescent gives a failed real weight 0 instead of removing it, so
	// persistent clients keep their real until it is back (default false).
	Quiescent bool
	// Fallback is the sorry server used when every real is down (optional).
	Fallback netip.AddrPort
	// ConnectTimeout bounds a connection to a real (default 3s).
	ConnectTimeout time.Duration
	// IdleTimeout closes idle connections or UDP flows (default 10m for tcp,
	// 60s for udp: a SIP dialog refreshes well within that).
	IdleTimeout time.Duration
	// RequestTimeout and BodyTimeout bound an HTTP request's head and body
	// (http mode only; 0: l7.DefaultRequestTimeout 10s and
	// l7.DefaultBodyTimeout 30s, HAProxy's usual timeout http-request and
	// timeout client).
	RequestTimeout, BodyTimeout time.Duration
	// MaxConn bounds the service's client connections, like HAProxy's
	// maxconn (tcp only; 0: no per-service bound, the balancer-wide one
	// derived from the descriptor limit still applies).
	MaxConn int
	// MaxFlows bounds a udp service's flow table (0: l4.DefaultMaxFlows,
	// 16384); when full, the longest-idle flows are evicted.
	MaxFlows int
	Check    Check
	Reals    []Real    // primaries (at least one, unless Fallback is set)
	Backups  []Real    // used while a monitor fails or every real is down
	Monitors []Monitor // Zeus-style monitors that switch to Backups
}

// Check is how every real of a service is probed.
type Check struct {
	// Type is connect (default for tcp), negotiate, http, sip, external, or a
	// positive integer N as a string: connect every interval and negotiate
	// every Nth, as ldirectord's checktype=N. udp services need sip or
	// external.
	Type    string
	Request string         // HTTP path for negotiate, http and N (default "/")
	Host    string         // HTTP Host header (default the real's address)
	Receive *regexp.Regexp // negotiate and N: must match the response (required there)
	Status  int            // http: expected status (default 200)
	Program string         // external: program to run (required there)
	Args    []string       // external: its arguments
	// Interval is between probes of one real (default 2s).
	Interval time.Duration
	// Timeout bounds one probe, at most Interval (default 1s or Interval if
	// shorter).
	Timeout time.Duration
	Rise    int // successes in a row to become healthy (default 2, HAProxy's)
	Fall    int // failures in a row to become unhealthy (default 3, HAProxy's)
}

// Real is one backend.
type Real struct {
	Address netip.AddrPort // "198.18.1.10:80"; the port defaults to the service's
	Weight  int            // 0..65535; 0 = quiescent (default 1)
}

// Monitor is a Zeus-style monitor program: exit status non-zero or FAIL on
// stdout moves traffic to the service's backups.
type Monitor struct {
	Script   string        // program (required)
	Args     []string      // its arguments
	Interval time.Duration // between runs (default 5s)
	Timeout  time.Duration // per run, at most Interval (default 2s or Interval if shorter)
}
