// Package scenario is the catalogue of configs the e2e tests run had with:
// Config generates a pair's config from Options, and All lists every
// Options (and every edit of a generated config) the tests use. The e2e
// tests refuse a config that is not in the catalogue, so a unit test
// (node's TestConfigsCheckAndBuild) checks every one without root or a lab.
package scenario

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Timing of the pair in every e2e test: fast enough that tests are short,
// slow enough for -race binaries on a loaded 2-core machine.
const (
	Keepalive = 100 * time.Millisecond
	Deadtime  = 500 * time.Millisecond
)

// Authkeys is the authkeys file every e2e node gets.
const Authkeys = "auth 1\n1 sha256 e2e-test-secret-that-is-long-enough\n"

// Options vary the generated config.
type Options struct {
	AutoFailback bool
	FailbackHold time.Duration
	Initdead     time.Duration // default 2s
	Ping         string        // ping node address, "" = none
	ExtraGroup   string        // extra TOML appended to the group's resources
	Links        string        // "" = mcast on eth0 + ucast on eth1
	Notify       bool          // run HOSTDIR/notify.sh on every transition (writes notify.log)
	Backends     int           // lab backends running labsrv (default 2)
	// Services replaces the default [[service]] "tcp"; BalancerServices
	// names the services the group's balancer resource activates.
	Services         string
	BalancerServices []string
	// Resources, when set, replaces the group's whole resource list
	// (TOML array elements), for tests whose start order matters.
	Resources string
	// Admin serves the admin listener on every address of the node, port
	// AdminPort (allow_remote), so the client reaches it on the VIP.
	Admin bool
	// Nodes is the cluster size, lb1..lbN (default 2).
	Nodes int
	// Preferred is the group's `preferred` value as TOML (default "lb1").
	Preferred string
	// Mode is the group's mode ("" = the default, active-passive).
	Mode string
	// Tables is TOML appended at the end (e.g. a [bgp] table).
	Tables string
	// Router puts a router (198.18.0.1) between the LAN and the client.
	Router bool
}

// AdminPort is the admin listener's port with Options.Admin.
const AdminPort = 9694

// Config is the config of a node whose own directory is dir and control
// socket is socket: identical on both nodes but for the socket and state
// directory. HOSTDIR in options (a script path) becomes dir.
func Config(dir, socket string, o Options) string {
	initdead := o.Initdead
	if initdead == 0 {
		initdead = 2 * time.Second
	}
	hold := o.FailbackHold
	if hold == 0 {
		hold = 2 * Deadtime
	}
	nodes, peers := nodeNames(o.Nodes)
	preferred := o.Preferred
	if preferred == "" {
		preferred = `"lb1"`
	}
	services, names := o.Services, o.BalancerServices
	if services == "" {
		services, names = DefaultService, []string{"tcp"}
	}
	resources := fmt.Sprintf(`  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
  { kind = "balancer", services = %q },
%s`, names, o.ExtraGroup)
	if o.Resources != "" {
		resources = o.Resources
	}
	// had refuses keys that nothing reads: failback_hold without an
	// auto_failback, [garp] without a vip resource.
	holdLine, garp := "", ""
	if o.AutoFailback || strings.Contains(resources+o.Tables, "auto_failback = true") {
		holdLine = fmt.Sprintf("failback_hold = %q\n", hold.String())
	}
	if strings.Contains(resources+o.Tables, `kind = "vip"`) {
		garp = GARP
	}
	var b strings.Builder
	b.WriteString(Cluster{Name: "e2e", ID: 42, Nodes: nodes,
		Keepalive: Keepalive, Warntime: (Keepalive + Deadtime) / 2, Deadtime: Deadtime, Initdead: initdead,
		Keys: fmt.Sprintf("auto_failback = %v\n", o.AutoFailback) + holdLine + notifyLine(o), Dir: dir, Socket: socket}.String())
	fmt.Fprintf(&b, "\n%s\n", garp)
	if o.Links != "" {
		b.WriteString(o.Links)
	} else {
		b.WriteString(Links(peers))
	}
	if o.Ping != "" {
		b.WriteString(Ping(o.Ping))
	}
	// An active-active group has no preferred node (had refuses the key).
	mode := fmt.Sprintf("preferred = %s\n", preferred)
	if o.Mode != "" {
		mode = fmt.Sprintf("mode = %q\n", o.Mode)
	}
	fmt.Fprintf(&b, `[[group]]
name = "web"
%sresources = [
%s]

%s%s`, mode, resources, services, o.Tables)
	if o.Admin {
		fmt.Fprintf(&b, "\n[admin]\nlisten = \"0.0.0.0:%d\"\nallow_remote = true\n", AdminPort)
	}
	return strings.ReplaceAll(b.String(), "HOSTDIR", dir)
}

// Cluster is the [cluster] table of a lab node's config: the node's
// state directory and control socket live in its own directory, the
// authkeys file next to the config.
type Cluster struct {
	Name  string
	ID    int
	Nodes string // the TOML list of node names; "" = ["lb1", "lb2"]
	// The heartbeat timing; Warntime 0 leaves warntime unset (had derives
	// it from keepalive and deadtime).
	Keepalive, Warntime, Deadtime, Initdead time.Duration
	Keys                                    string // more keys, one TOML line each (auto_failback, realtime, notify)
	Dir, Socket                             string // the node's directory (state_dir is Dir/state) and control socket
}

// String is the [cluster] table, ending with its last key's line.
func (c Cluster) String() string {
	nodes := c.Nodes
	if nodes == "" {
		nodes = `["lb1", "lb2"]`
	}
	warntime := ""
	if c.Warntime != 0 {
		warntime = fmt.Sprintf("warntime = %q\n", c.Warntime.String())
	}
	return fmt.Sprintf(`[cluster]
name = %q
id = %d
nodes = %s
authkeys = "authkeys"
keepalive = %q
%sdeadtime = %q
initdead = %q
%sstate_dir = "%s/state"
socket = "%s"
`, c.Name, c.ID, nodes, c.Keepalive.String(), warntime, c.Deadtime.String(), c.Initdead.String(), c.Keys, c.Dir, c.Socket)
}

// GARP is the [garp] table of every lab node: three announcements 50ms
// apart and a second burst after 1s, so a takeover is seen within the
// short waits of the tests.
const GARP = `[garp]
count = 3
interval = "50ms"
second_burst = "1s"
`

// Links is the two heartbeat links of a lab node: multicast on eth0 (the
// LAN) and unicast to peers (the body of a TOML table of node = address)
// on the heartbeat LAN.
func Links(peers string) string {
	return fmt.Sprintf(`[[link]]
kind = "mcast"
interface = "eth0"
group = "239.255.0.94"

[[link]]
kind = "ucast"
peers = { %s }

`, peers)
}

// Ping is the [[ping]] table of a ping node at address, probed every
// 100ms. Weight 1: losing the ping node barely lowers the priority, so
// what the tests see is the isolation rule, not a priority change.
func Ping(address string) string {
	return fmt.Sprintf("[[ping]]\naddress = %q\ninterval = \"100ms\"\ntimeout = \"100ms\"\nweight = 1\n\n", address)
}

// nodeNames returns the TOML list of lb1..lbN (n 0 = 2) and the ucast
// peers table's body, each node at its lab heartbeat address 198.18.1.10+i.
func nodeNames(n int) (nodes, peers string) {
	if n == 0 {
		n = 2
	}
	var ns, ps []string
	for i := 1; i <= n; i++ {
		ns = append(ns, fmt.Sprintf("%q", fmt.Sprintf("lb%d", i)))
		ps = append(ps, fmt.Sprintf("lb%d = \"198.18.1.%d\"", i, 10+i))
	}
	return "[" + strings.Join(ns, ", ") + "]", strings.Join(ps, ", ")
}

// ThreeNodes is the three-node active/passive scenario: the group prefers
// lb1, then lb2, then lb3, and fails back up the list.
var ThreeNodes = Options{Nodes: 3, Preferred: `["lb1", "lb2", "lb3"]`, AutoFailback: true, FailbackHold: FailbackHold, Initdead: Deadtime}

// ThreeGroups is ThreeNodes with two more groups, each preferring another
// node first: Heartbeat's active/active, every node primary for one group
// (web on lb1, api on lb2, db on lb3) and next in line for another.
var ThreeGroups = func() Options {
	o := ThreeNodes
	o.Tables = `
[[group]]
name = "api"
preferred = ["lb2", "lb3", "lb1"]
resources = [ { kind = "vip", address = "198.18.0.101/24", interface = "eth0" } ]

[[group]]
name = "db"
preferred = ["lb3", "lb1", "lb2"]
resources = [ { kind = "vip", address = "198.18.0.102/24", interface = "eth0" } ]
`
	return o
}()

// ECMP is the active/active scenario of the BGP tests: three nodes
// announce 198.18.2.100 to the router (BIRD, AS 65000, the client behind it) and
// balance it with the source-hash scheduler, so every node picks the same
// real for a client.
var ECMP = Options{
	Nodes: 3, Mode: "active-active", Initdead: Deadtime, Router: true,
	// Balancer first, announcement last: started in order and stopped in
	// reverse, so the route is withdrawn before the service stops.
	Resources: `  { kind = "balancer", services = ["anycast"] },
  { kind = "bgp", addresses = ["198.18.2.100"] },
`,
	Services: `[[service]]
name = "anycast"
listen = "198.18.2.100:9000"
scheduler = "sh"
check = { type = "connect", interval = "500ms", timeout = "100ms", rise = 1, fall = 1 }
reals = [ { address = "198.18.0.21:9000" }, { address = "198.18.0.22:9000" } ]
`,
	Tables: `
[bgp]
asn = 65001
nodes = { lb1 = "198.18.0.11/24", lb2 = "198.18.0.12/24", lb3 = "198.18.0.13/24" }
neighbors = [ { address = "198.18.0.1", asn = 65000 } ]
`,
}

// BGPThreeNodes is ECMP's cluster active/passive: one owner at a time
// announces the VIP, moving down the preference list on each crash and back
// up with auto_failback.
var BGPThreeNodes = func() Options {
	o := ECMP
	o.Mode = ""
	o.Preferred, o.AutoFailback, o.FailbackHold = ThreeNodes.Preferred, true, FailbackHold
	return o
}()

// ECMPDR is ECMP with the anycast service forwarded by direct routing
// (method "dr", sh): the nodes keep no per-flow state, so a flow that a
// route change moves to another node goes on to the same real.
var ECMPDR = func() Options {
	o := ECMP
	o.Services = strings.Replace(ECMP.Services, `scheduler = "sh"`, "method = \"dr\"\ninterface = \"eth0\"\nscheduler = \"sh\"", 1)
	return o
}()

// ECMPCheckInterval is the anycast service's check interval: a failed
// health gate must withdraw within two of them.
const ECMPCheckInterval = 500 * time.Millisecond

// DefaultService is the TCP service of a pair without Options.Services.
var DefaultService = Service{Name: "tcp", Port: 9000, Check: `type = "connect"`}.String()

// Service is one [[service]] table on the lab: it listens on the VIP
// 198.18.0.100 at Port and balances to backend1 and backend2 at the same
// port (or Reals), checked every CheckInterval like every balancer test.
type Service struct {
	Name      string
	Keys      string // more keys, one TOML line each (method, protocol, mode)
	Port      int
	Scheduler string // default "rr"
	Check     string // the check's type and its own keys: `type = "connect"`
	Reals     string // the reals array's elements (default both backends at Port)
	// Interval is the check interval (default CheckInterval).
	Interval time.Duration
}

// String is the service's [[service]] table.
func (s Service) String() string {
	sched := s.Scheduler
	if sched == "" {
		sched = "rr"
	}
	reals := s.Reals
	if reals == "" {
		reals = fmt.Sprintf(`{ address = "198.18.0.21:%d" }, { address = "198.18.0.22:%d" }`, s.Port, s.Port)
	}
	interval := s.Interval
	if interval == 0 {
		interval = CheckInterval
	}
	return fmt.Sprintf(`[[service]]
name = %q
%slisten = "198.18.0.100:%d"
scheduler = %q
check = { %s, interval = "%s", timeout = "%s", rise = 1, fall = %d }
reals = [ %s ]
`, s.Name, s.Keys, s.Port, sched, s.Check, interval, CheckTimeout, CheckFall, reals)
}

func notifyLine(o Options) string {
	if !o.Notify {
		return ""
	}
	return "notify = \"HOSTDIR/notify.sh\"\n"
}

// Balancer health checks in the balancer tests.
const (
	CheckInterval = 200 * time.Millisecond
	CheckTimeout  = 100 * time.Millisecond
	CheckFall     = 2
)

// SlowChecks is the sticky HTTP service checked every 2s, had's default
// check interval (review 12 item 2: a node whose had was just restarted
// has not checked its reals for up to an interval, unless it checks them
// at start).
var SlowChecks = Balancer(2, Service{Name: "http", Keys: "mode = \"http\"\n", Port: 80,
	Check: `type = "negotiate", request = "/status", receive = "ok"`, Interval: 2 * time.Second}.String()+`persistent = "60s"`+"\n", "http")

// HTTPService is an HTTP-mode service checked like ldirectord's
// negotiate: GET /status must answer 200 with "ok" in the body. extra is
// appended to the [[service]] table.
func HTTPService(extra string) string {
	return Service{Name: "http", Keys: "mode = \"http\"\n", Port: 80, Check: `type = "negotiate", request = "/status", receive = "ok"`}.String() + extra + "\n"
}

// SIPService is a UDP service checked with SIP OPTIONS.
var SIPService = Service{Name: "sip", Keys: "protocol = \"udp\"\n", Port: 5060, Check: `type = "sip"`}.String()

// BackupPool is the Zeus-style backup pool with a monitor script.
const BackupPool = `backups = [ { address = "198.18.0.23:80" } ]
monitors = [ { script = "HOSTDIR/monitor.sh", interval = "100ms", timeout = "100ms" } ]`

// ScriptResource is the script resource of the failed-start test.
const ScriptResource = "  { kind = \"script\", path = \"HOSTDIR/app.sh\" },\n"

// FailbackHold is the hold of the failback tests.
const FailbackHold = 1500 * time.Millisecond

// PersistentFailback is the sticky HTTP service with auto_failback on: the
// returning node takes the group back only once it holds the owner's
// persistence table.
var PersistentFailback = func() Options {
	o := Balancer(2, HTTPService(`persistent = "60s"`), "http")
	o.AutoFailback, o.FailbackHold, o.Initdead = true, FailbackHold, Deadtime
	return o
}()

// Reweighted is the reload-under-load edit: reals re-weighted and added.
func Reweighted(config string) string {
	return strings.Replace(config,
		`reals = [ { address = "198.18.0.21:80" }, { address = "198.18.0.22:80" } ]`,
		`reals = [ { address = "198.18.0.21:80", weight = 2 }, { address = "198.18.0.22:80" }, { address = "198.18.0.23:80" } ]`, 1)
}

// KernelReweighted gives the nat service's first real weight 0
// (quiescent) and moves it to wrr: new connections go to the second real,
// established ones stay.
func KernelReweighted(config string) string {
	rw := kernelNAT
	rw.Scheduler, rw.Reals = "wrr", `{ address = "198.18.0.21:9000", weight = 0 }, { address = "198.18.0.22:9000" }`
	return strings.Replace(config, kernelNAT.String(), rw.String(), 1)
}

// SlowerHeartbeat doubles the keepalive: a change a running had cannot
// take, so its reload is refused.
func SlowerHeartbeat(config string) string {
	return strings.Replace(config, fmt.Sprintf("keepalive = %q", Keepalive.String()), fmt.Sprintf("keepalive = %q", (2*Keepalive).String()), 1)
}

// HostAddressVIP is a second VIP equal to lb1's own eth0 address: had
// must neither take it over nor remove it (issue 9 case 3).
const HostAddressVIP = `  { kind = "vip", address = "198.18.0.11/24", interface = "eth0" },
`

// Balancer is the Options of a balancer test: backends labsrv backends
// and services activated by the group's balancer resource.
func Balancer(backends int, services string, names ...string) Options {
	return Options{Backends: backends, Services: services, BalancerServices: names}
}

// All is every Options the e2e tests run with, by a name for messages.
func All() map[string]Options {
	http := []string{"http"}
	return map[string]Options{
		"pair":               {},
		"three nodes":        ThreeNodes,
		"three groups":       ThreeGroups,
		"ecmp":               ECMP,
		"bgp three nodes":    BGPThreeNodes,
		"ecmp dr":            ECMPDR,
		"notify":             {Notify: true},
		"ping":               {Ping: "198.18.0.21"},
		"failback off":       {AutoFailback: false, FailbackHold: FailbackHold, Initdead: Deadtime},
		"failback on":        {AutoFailback: true, FailbackHold: FailbackHold, Initdead: Deadtime},
		"script":             {ExtraGroup: ScriptResource},
		"host address vip":   {ExtraGroup: HostAddressVIP},
		"http":               Balancer(2, HTTPService(""), http...),
		"http 3 backends":    Balancer(3, HTTPService(""), http...),
		"http fallback":      Balancer(3, HTTPService(`fallback = "198.18.0.23:80"`), http...),
		"http backup pool":   Balancer(3, HTTPService(BackupPool), http...),
		"http persistent":    Balancer(2, HTTPService(`persistent = "60s"`), http...),
		"sticky failback":    PersistentFailback,
		"sticky slow checks": SlowChecks,
		"sip":                Balancer(2, SIPService, "sip"),
		"kernel nat":         {Services: KernelServices, Resources: KernelResources},
		"admin":              {Admin: true},
		"kernel dr":          {Services: KernelDRService, Resources: KernelDRResources},
		"kernel nat sticky":  {Services: KernelStickyService, Resources: KernelStickyResources},
		"kernel dr rr":       {Services: KernelDRRRService, Resources: KernelDRResources},
		// lb1's own eth0 address as a VIP (hold_test: never taken over nor removed).
		"vip on a host address": {ExtraGroup: `  { kind = "vip", address = "198.18.0.11/24", interface = "eth0" },` + "\n"},
	}
}

// Edit is a change a test makes to the generated config of a scenario of
// All (for a reload).
type Edit struct {
	Scenario string // key in All
	Apply    func(config string) string
}

// Edits are the edits the tests make, by name.
func Edits() map[string]Edit {
	return map[string]Edit{
		"reweighted":        {"http 3 backends", Reweighted},
		"slower heartbeat":  {"pair", SlowerHeartbeat},
		"kernel reweighted": {"kernel nat", KernelReweighted},
	}
}

// Known reports whether o is in All: the e2e tests run only catalogued
// configs, so the unit test that checks All covers them.
func Known(o Options) bool {
	for _, k := range All() {
		if reflect.DeepEqual(k, o) {
			return true
		}
	}
	return false
}

// KernelServices are LVS-NAT services (method "nat"): TCP to labsrv's
// echo port and UDP to its SIP port, forwarded by the kernel.
var KernelServices = kernelNAT.String() + "\n" +
	Service{Name: "sip", Keys: "method = \"nat\"\nprotocol = \"udp\"\n", Port: 5060, Check: `type = "sip"`}.String()

var kernelNAT = Service{Name: "nat", Keys: "method = \"nat\"\n", Port: 9000, Check: `type = "connect"`}

// KernelResources start conntrack-sync first (commit the peer's
// connections), then program the kernel, then move the VIP; release runs
// them backwards.
const KernelResources = `  { kind = "conntrack-sync", interface = "eth1", addresses = ["198.18.1.11", "198.18.1.12"] },
  { kind = "balancer", services = ["nat", "sip"] },
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
`

// KernelDRService is direct routing (method "dr") with the source-hash
// scheduler: both nodes map a client to the same real, so a dr
// connection goes on to its real after a failover even before the flow
// table reaches the peer.
var KernelDRService = Service{Name: "gate", Keys: "method = \"dr\"\ninterface = \"eth0\"\n", Port: 9000, Scheduler: "sh", Check: `type = "connect"`}.String()

// KernelStickyService is an LVS-NAT service with ipvsadm -p persistence
// (60 s) and rr: the peer gets the kernel's persistence entries through
// the persistence sync, so a sticky client keeps its real after a
// failover.
var KernelStickyService = Service{Name: "nat", Keys: "method = \"nat\"\npersistent = \"60s\"\n", Port: 9000, Check: `type = "connect"`}.String()

// KernelStickyResources program the kernel, then move the VIP.
const KernelStickyResources = `  { kind = "balancer", services = ["nat"] },
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
`

// KernelDRRRService is KernelDRService with rr, whose pick is not a
// function of the flow: a dr connection goes on to its real after a
// failover only through the synced flow table.
var KernelDRRRService = Service{Name: "gate", Keys: "method = \"dr\"\ninterface = \"eth0\"\n", Port: 9000, Scheduler: "rr", Check: `type = "connect"`}.String()

// KernelDRResources program the kernel, then move the VIP.
const KernelDRResources = `  { kind = "balancer", services = ["gate"] },
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
`
