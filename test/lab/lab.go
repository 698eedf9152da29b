package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Addresses and ports of every lab. The lab's addresses come from
// 198.18.0.0/15 (RFC 2544 benchmarking space) and nothing else.
var (
	LAN          = netip.MustParsePrefix("198.18.0.0/24") // eth0 of every host
	HeartbeatLAN = netip.MustParsePrefix("198.18.1.0/24") // eth1 of lb nodes, with Options.HeartbeatLAN
	VIP          = netip.MustParseAddr("198.18.0.100")    // free on LAN, for hapair's virtual IP
	// ClientLAN is the client's network behind the router (Options.Router);
	// RouterAddr is the router's address on LAN, the lb nodes' gateway to it.
	ClientLAN  = netip.MustParsePrefix("198.18.4.0/24")
	RouterAddr = netip.MustParseAddr("198.18.0.1")
)

// HeartbeatPort is the UDP port the *Heartbeats rules match (IANA ha-cluster).
const HeartbeatPort = 694

// Limits on Options, from the address plan (lbN at .10+N, backendN at .20+N,
// the client at .50).
const (
	MaxNodes    = 9
	MaxBackends = 29
)

// Options shapes a lab. The zero value is lb1, lb2, backend1, backend2 and a
// client on one LAN, IPv6 off.
type Options struct {
	Nodes        int  // lb nodes lb1..lbN (default 2, at most MaxNodes)
	Backends     int  // backend1..N (default 2, at most MaxBackends; negative = none)
	HeartbeatLAN bool // a second switch, 198.18.1.0/24, on eth1 of every lb node
	// Router adds host "router" (eth0 198.18.0.1 on LAN, eth1 198.18.4.1,
	// forwarding) and puts the client behind it on ClientLAN (198.18.4.50,
	// default route via the router); every other host routes ClientLAN via
	// the router. The router runs nothing: tests start BIRD or the like.
	Router      bool
	IPv6        bool          // keep IPv6 (link-local only); off by default so tests see no RA/MLD/DAD noise
	StopTimeout time.Duration // cleanup's SIGTERM-to-SIGKILL grace per process (default 5s)
}

func (o Options) withDefaults() (Options, error) {
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	if o.Nodes < 1 || o.Nodes > MaxNodes {
		return o, fmt.Errorf("lab: Nodes %d: want 1..%d", o.Nodes, MaxNodes)
	}
	switch {
	case o.Backends == 0:
		o.Backends = 2
	case o.Backends < 0:
		o.Backends = 0
	case o.Backends > MaxBackends:
		return o, fmt.Errorf("lab: Backends %d: want at most %d", o.Backends, MaxBackends)
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 5 * time.Second
	}
	return o, nil
}

// Lab is a set of hosts in network namespaces joined by a bridge that lives in
// its own namespace, so the root namespace is never touched. New registers
// its removal with t.Cleanup; Close removes it earlier.
//
// Methods that change the lab (Partition, Start, ...) report failures with
// t.Fatal on the test that made the lab, so call them from that test's
// goroutine. Queries (NeighMAC, HasAddr, Run) return errors, for polling.
type Lab struct {
	ID  string // prefix of every namespace name, "hp-<pid>-<4 hex>"
	Dir string // per-lab temp dir; each host has a subdirectory

	t      T
	opts   Options
	hosts  []*Host
	byName map[string]*Host
	sw     string // switch namespace

	mu      sync.Mutex
	cuts    []cut
	loss    map[string]loss
	mute    map[string]bool // hosts whose outgoing heartbeats are dropped
	touched map[string]bool // hosts that ever had nft tables
	procs   []*Proc
	closed  bool
	once    sync.Once
}

// Host is one namespace with eth0 on LAN (and eth1 on HeartbeatLAN).
type Host struct {
	Name   string     // "lb1", "backend2", "client"
	Netns  string     // "hp-1234-9f3a-lb1", for ip -n / ip netns exec
	Addr   netip.Addr // eth0 address on LAN
	HBAddr netip.Addr // eth1 address on HeartbeatLAN; invalid without it
	// eth1 is the router's eth1 address on ClientLAN (invalid elsewhere).
	eth1 netip.Addr
	// bridge is the switch bridge each interface is plugged into.
	bridge map[string]string
	Dir    string // per-host temp dir for configs, sockets, logs

	lab  *Lab
	macs map[string]net.HardwareAddr
	port map[string]string // iface -> switch port name
}

// New builds a lab for t and registers its removal (processes, nftables
// tables, namespaces with their links and bridges) with t.Cleanup before it
// creates anything. Without root, ip or nft it skips t, or fails it under
// HAPAIR_E2E=1.
func New(t T, opts Options) *Lab {
	t.Helper()
	Require(t)
	o, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	sweepStale(t)
	l := plan(t, o, fmt.Sprintf("hp-%d-%04x", os.Getpid(), labSeq.Add(1)&0xffff), t.TempDir())

	t.Cleanup(func() { l.teardown() })
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := l.build(ctx); err != nil {
		if errors.Is(err, errNoPermission) {
			skipOrFatal(t, err.Error())
		}
		t.Fatal(err)
	}
	t.Logf("lab %s: %d hosts up in %v", l.ID, len(l.hosts), time.Since(start).Round(time.Millisecond))
	return l
}

// plan lays out the lab's hosts, addresses and MACs without creating anything.
func plan(t T, o Options, id, dir string) *Lab {
	l := &Lab{
		ID:      id,
		Dir:     dir,
		t:       t,
		opts:    o,
		byName:  map[string]*Host{},
		loss:    map[string]loss{},
		mute:    map[string]bool{},
		touched: map[string]bool{},
	}
	l.sw = l.ID + "-sw"
	for i := 1; i <= o.Nodes; i++ {
		h := l.addHost(fmt.Sprintf("lb%d", i), 10+i)
		if o.HeartbeatLAN {
			h.HBAddr = netip.AddrFrom4([4]byte{198, 18, 1, byte(10 + i)})
			h.macs["eth1"] = mac(1, 10+i)
			h.port["eth1"] = h.Name + "-hb"
		}
	}
	for i := 1; i <= o.Backends; i++ {
		l.addHost(fmt.Sprintf("backend%d", i), 20+i)
	}
	if o.Router {
		r := l.addHost("router", 1)
		r.eth1 = netip.AddrFrom4([4]byte{198, 18, 4, 1})
		r.macs["eth1"] = mac(4, 1)
		r.port["eth1"] = "router-cl"
		r.bridge["eth1"] = "br2"
	}
	c := l.addHost("client", 50)
	if o.Router {
		c.Addr = netip.AddrFrom4([4]byte{198, 18, 4, 50})
		c.macs["eth0"] = mac(4, 50)
		c.bridge["eth0"] = "br2"
	}
	return l
}

func (l *Lab) addHost(name string, octet int) *Host {
	h := &Host{
		Name:   name,
		Netns:  l.ID + "-" + name,
		Addr:   netip.AddrFrom4([4]byte{198, 18, 0, byte(octet)}),
		Dir:    filepath.Join(l.Dir, name),
		lab:    l,
		macs:   map[string]net.HardwareAddr{"eth0": mac(0, octet)},
		port:   map[string]string{"eth0": name},
		bridge: map[string]string{"eth0": "br0", "eth1": "br1"},
	}
	l.hosts = append(l.hosts, h)
	l.byName[name] = h
	return h
}

// mac is a fixed, locally administered address per LAN and host, so a MAC in
// a failure message says which host it is: 02:68:70:00:LAN:OCTET ("hp").
func mac(lan, octet int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x68, 0x70, 0x00, byte(lan), byte(octet)}
}

// labSeq numbers labs within the process from a random start: unique among
// concurrent labs of one test binary, unlikely to meet a stale lab of an
// earlier process that had the same PID.
var labSeq atomic.Uint32

func init() { labSeq.Store(rand.Uint32()) }

var errNoPermission = errors.New("permission to create network namespaces")

// build makes the namespaces, the switch and one veth per host interface.
// Each step is one `ip -batch` so a lab costs a handful of processes.
func (l *Lab) build(ctx context.Context) error {
	var b strings.Builder
	fmt.Fprintf(&b, "netns add %s\n", l.sw)
	for _, h := range l.hosts {
		fmt.Fprintf(&b, "netns add %s\n", h.Netns)
		if err := os.MkdirAll(h.Dir, 0o700); err != nil {
			return fmt.Errorf("lab: making %s: %w", h.Dir, err)
		}
	}
	if err := ipBatch(ctx, "", b.String()); err != nil {
		if strings.Contains(err.Error(), "Operation not permitted") || strings.Contains(err.Error(), "Permission denied") {
			return fmt.Errorf("%w (%v)", errNoPermission, err)
		}
		return err
	}
	if err := l.sysctls(ctx); err != nil {
		return err
	}

	b.Reset()
	b.WriteString("link set lo up\nlink add br0 type bridge mcast_snooping 0\nlink set br0 up\n")
	if l.opts.HeartbeatLAN {
		b.WriteString("link add br1 type bridge mcast_snooping 0\nlink set br1 up\n")
	}
	if l.opts.Router {
		b.WriteString("link add br2 type bridge mcast_snooping 0\nlink set br2 up\n")
	}
	if err := ipBatch(ctx, l.sw, b.String()); err != nil {
		return err
	}

	b.Reset()
	for _, h := range l.hosts {
		for _, ifc := range h.Ifaces() {
			fmt.Fprintf(&b, "link add name %s netns %s address %s type veth peer name %s netns %s\n",
				ifc, h.Netns, h.macs[ifc], h.port[ifc], l.sw)
		}
	}
	if err := ipBatch(ctx, "", b.String()); err != nil {
		return err
	}

	b.Reset()
	for _, h := range l.hosts {
		for _, ifc := range h.Ifaces() {
			fmt.Fprintf(&b, "link set dev %s master %s up\n", h.port[ifc], h.bridge[ifc])
		}
	}
	if err := ipBatch(ctx, l.sw, b.String()); err != nil {
		return err
	}

	for _, h := range l.hosts {
		b.Reset()
		fmt.Fprintf(&b, "link set dev lo up\naddr add %s/%d dev eth0\nlink set dev eth0 up\n", h.Addr, LAN.Bits())
		if h.HBAddr.IsValid() {
			fmt.Fprintf(&b, "addr add %s/%d dev eth1\nlink set dev eth1 up\n", h.HBAddr, HeartbeatLAN.Bits())
		}
		if h.eth1.IsValid() {
			fmt.Fprintf(&b, "addr add %s/%d dev eth1\nlink set dev eth1 up\n", h.eth1, ClientLAN.Bits())
		}
		if l.opts.Router {
			b.WriteString(routeLine(h))
		}
		if err := ipBatch(ctx, h.Netns, b.String()); err != nil {
			return err
		}
	}
	if l.opts.Router {
		if _, err := run(ctx, nil, "ip", "netns", "exec", l.Host("router").Netns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"); err != nil {
			return fmt.Errorf("lab: forwarding on the router: %w", err)
		}
	}
	return nil
}

// routeLine is h's route to the other side of the router: the client's
// default route, everyone else's route to ClientLAN ("" for the router).
func routeLine(h *Host) string {
	switch {
	case h.Name == "router":
		return ""
	case h.Name == "client":
		return fmt.Sprintf("route add default via %s\n", netip.AddrFrom4([4]byte{198, 18, 4, 1}))
	default:
		return fmt.Sprintf("route add %s via %s\n", ClientLAN, RouterAddr)
	}
}

// sysctls turns IPv6 off (before any link exists, through "default") unless
// Options.IPv6. Everything else keeps the kernel's defaults on purpose, so the
// e2e tests see what a real host does: arp_notify 0, arp_accept 0 (a
// gratuitous ARP updates an existing neighbour entry but creates none), neigh
// locktime 1s (an entry updated less than 1s ago ignores a different MAC).
func (l *Lab) sysctls(ctx context.Context) error {
	if l.opts.IPv6 {
		return nil
	}
	const script = `[ -d /proc/sys/net/ipv6 ] || exit 0
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6`
	nss := []string{l.sw}
	for _, h := range l.hosts {
		nss = append(nss, h.Netns)
	}
	errs := make([]error, len(nss))
	var wg sync.WaitGroup
	for i, ns := range nss {
		wg.Go(func() {
			_, errs[i] = run(ctx, nil, "ip", "netns", "exec", ns, "sh", "-c", script)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Host returns the host called name ("lb1", "backend1", "client"); an
// unknown name fails the test.
func (l *Lab) Host(name string) *Host {
	h, ok := l.byName[name]
	if !ok {
		l.t.Helper()
		l.t.Fatalf("lab: no host %q (have %s)", name, strings.Join(l.names(), ", "))
	}
	return h
}

func (l *Lab) names() []string {
	var ns []string
	for _, h := range l.hosts {
		ns = append(ns, h.Name)
	}
	return ns
}

// Hosts returns every host: lb nodes, backends, then the client.
func (l *Lab) Hosts() []*Host { return append([]*Host(nil), l.hosts...) }

// Nodes returns the lb nodes lb1..lbN.
func (l *Lab) Nodes() []*Host { return l.hosts[:l.opts.Nodes] }

// Backends returns backend1..N.
func (l *Lab) Backends() []*Host { return l.hosts[l.opts.Nodes : l.opts.Nodes+l.opts.Backends] }

// Client returns the client host.
func (l *Lab) Client() *Host { return l.hosts[len(l.hosts)-1] }

// Ifaces returns the host's lab interfaces: "eth0", and "eth1" on lb nodes
// with Options.HeartbeatLAN and on the router.
func (h *Host) Ifaces() []string {
	if h.HBAddr.IsValid() || h.eth1.IsValid() {
		return []string{"eth0", "eth1"}
	}
	return []string{"eth0"}
}

// MAC returns the hardware address of the host's eth0 or eth1 (fixed at
// creation: 02:68:70:00:LAN:OCTET), or nil for another interface.
func (h *Host) MAC(iface string) net.HardwareAddr { return h.macs[iface] }

// String returns the host's name.
func (h *Host) String() string { return h.Name }

// Close removes the lab now (processes, nftables tables, namespaces) and
// reports whether anything was left behind. It is safe to call more than
// once; t.Cleanup calls it too.
func (l *Lab) Close() error {
	var err error
	l.once.Do(func() { err = l.close() })
	return err
}

func (l *Lab) teardown() {
	if err := l.Close(); err != nil {
		l.t.Errorf("lab %s: cleanup: %v", l.ID, err)
	}
}

func (l *Lab) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	failed := l.t.Failed()
	if failed {
		l.t.Logf("lab %s state at failure:\n%s", l.ID, l.State(ctx))
	}
	l.mu.Lock()
	l.closed = true
	procs := append([]*Proc(nil), l.procs...)
	touched := l.touched
	l.mu.Unlock()

	errs := []error{stopAll(procs, l.opts.StopTimeout)}
	if failed || os.Getenv("HAPAIR_LAB_LOGS") == "1" {
		for _, p := range procs {
			l.t.Logf("--- %s: %s (pid %d, %s):\n%s", p.Host.Name, strings.Join(p.Argv, " "), p.PID, p.status(), p.tail(32<<10))
		}
	}
	for _, h := range l.hosts {
		if touched[h.Name] {
			errs = append(errs, h.nft(ctx, deleteTables))
		}
	}
	var b strings.Builder
	for _, ns := range l.namespaces(ctx) {
		fmt.Fprintf(&b, "netns del %s\n", ns)
	}
	if b.Len() > 0 {
		errs = append(errs, ipBatch(ctx, "", b.String()))
	}
	if left := l.namespaces(ctx); len(left) > 0 {
		errs = append(errs, fmt.Errorf("namespaces left behind: %s", strings.Join(left, " ")))
	}
	return errors.Join(errs...)
}

// namespaces lists this lab's namespaces that exist now.
func (l *Lab) namespaces(ctx context.Context) []string {
	var mine []string
	for _, ns := range listNetns(ctx) {
		if strings.HasPrefix(ns, l.ID+"-") {
			mine = append(mine, ns)
		}
	}
	return mine
}

func listNetns(ctx context.Context) []string {
	out, err := run(ctx, nil, "ip", "netns", "list")
	if err != nil {
		return nil
	}
	var nss []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			nss = append(nss, f[0])
		}
	}
	return nss
}

// staleName matches lab namespaces: hp-<pid of the test process>-<4 hex>-<host>.
var staleName = regexp.MustCompile(`^hp-([0-9]+)-[0-9a-f]{4}-`)

// sweepStale removes namespaces that labs of dead test processes left behind
// (a test binary killed by -timeout runs no cleanup). Only names of our own
// pattern whose process no longer exists are touched; the processes inside
// died with their parent (Pdeathsig), so this frees the namespaces.
func sweepStale(t T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stale []string
	for _, ns := range listNetns(ctx) {
		m := staleName.FindStringSubmatch(ns)
		if m == nil {
			continue
		}
		if pid, err := strconv.Atoi(m[1]); err == nil && pid != os.Getpid() && !alive(pid) {
			stale = append(stale, ns)
		}
	}
	if len(stale) == 0 {
		return
	}
	var b strings.Builder
	for _, ns := range stale {
		fmt.Fprintf(&b, "netns del %s\n", ns)
	}
	if err := ipBatch(ctx, "", b.String()); err != nil {
		t.Logf("lab: removing stale namespaces: %v", err)
		return
	}
	t.Logf("lab: removed %d namespaces left by dead test processes: %s", len(stale), strings.Join(stale, " "))
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ipBatch runs `ip [-n ns] -force -batch -` with the given lines; -force runs
// every line and reports each failure.
func ipBatch(ctx context.Context, ns, lines string) error {
	args := []string{"-force", "-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := run(ctx, strings.NewReader(lines), "ip", args...)
	if err != nil {
		return fmt.Errorf("%w\nbatch:\n%s", err, lines)
	}
	return nil
}

// run runs a command to completion with a minimal environment and returns its
// stdout; the error names the command and carries its stderr.
func run(ctx context.Context, stdin *strings.Reader, name string, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultRunTimeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = baseEnv()
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Kill the whole process group on timeout, not only the direct child.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("lab: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// defaultRunTimeout bounds a command whose context has no deadline.
const defaultRunTimeout = 30 * time.Second

// baseEnv is what lab processes see: PATH and the Go test knobs, nothing
// else, so no proxy or locale setting from the caller reaches them.
func baseEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	for _, k := range []string{"GOCOVERDIR", "GORACE", "GOTRACEBACK", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
