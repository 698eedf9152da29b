package importer

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hapair/hapair/internal/fwd"
)

// src is where a block or a value came from: a file and a 1-based line (0
// when it concerns the whole file or nothing in it).
type src struct {
	file string
	line int
}

func (s src) String() string {
	if s.line == 0 {
		return s.file
	}
	return fmt.Sprintf("%s:%d", s.file, s.line)
}

// Warning is one directive that was not carried over (Refused false) or
// something essential that could not be converted (Refused true).
type Warning struct {
	File    string
	Line    int // 0: the whole file
	Refused bool
	Msg     string
}

// String formats w as FILE:LINE: message, with "not converted: " before the
// message of a refusal.
func (w Warning) String() string {
	at := src{w.File, w.Line}.String()
	if w.Refused {
		return at + ": not converted: " + w.Msg
	}
	return at + ": " + w.Msg
}

// Result is one import: the had.toml text and every warning, in the order
// the source was read.
type Result struct {
	TOML     []byte
	Warnings []Warning
	// Sources are the files read, as named in the warnings: an output
	// written over one of them would destroy the setup it came from.
	Sources []string
}

// Complete reports whether everything essential was converted (no warning is
// a refusal). An incomplete result still loads, with placeholders where
// things are missing.
func (r *Result) Complete() bool {
	for _, w := range r.Warnings {
		if w.Refused {
			return false
		}
	}
	return true
}

// The model mirrors the had.toml schema (internal/config) for the keys an
// import writes. Zero values mean "not written": the emitter leaves them out
// and hapair's default applies. Strings stay as text because the emitter
// writes them back out; the final load through internal/config is what
// checks them.
type model struct {
	header   []string // comment lines at the top of the file
	cluster  cluster
	links    []*link
	pings    []*ping
	groups   []*group
	services []*service
	sync     *resource // an ipvs-sync resource for the template group
	template bool      // the cluster, link and group are a template (no cluster in the source)
}

type cluster struct {
	at           src
	notes        []string
	name         string
	id           int
	nodes        []string
	authkeys     string
	keepalive    time.Duration
	warntime     time.Duration
	deadtime     time.Duration
	initdead     time.Duration
	autoFailback bool
	failbackSet  bool
	port         int
	timingAt     map[string]src // where each timer was set
}

type link struct {
	at    src
	notes []string
	kind  string // mcast | ucast
	iface string
	group string
	port  int
	peers map[string]string // ucast: node -> address
	where map[string]src    // ucast: address -> the line that gave it
	stand bool              // ucast: some address is a placeholder
}

type ping struct {
	at    src
	notes []string
	addr  string
}

type group struct {
	at        src
	notes     []string
	name      string
	preferred string
	resources []*resource
}

type resource struct {
	at       src
	note     string
	kind     string     // vip | balancer | ipvs-sync | conntrack-sync | script
	address  string     // vip: "ADDR/LEN"
	iface    string     // vip, ipvs-sync
	label    string     // vip
	services []string   // balancer: filled from svcs by finishGroups
	svcs     []*service // balancer: the services it activates
	role     string     // ipvs-sync
	syncID   int        // ipvs-sync; 0 is left out (the default)
	path     string     // script: "name::arg::arg" or an absolute path
	addrs    []string   // conntrack-sync: each node's address, in cluster.nodes order
	port     int        // conntrack-sync; 0 is left out (3780, the default)
}

type service struct {
	at         src
	notes      []string
	name       string
	listen     string // "ADDR:PORT"
	protocol   string // "" = tcp
	scheduler  string
	method     fwd.Method // what the source used: nat, dr, "tun" or "" (proxy)
	methodAt   src        // the first real's line
	methodTool string     // "ldirectord", "ipvsadm"
	methodSrc  string     // the source's name: gate, masq, ipip
	kernel     bool       // method is written: hapair forwards in the kernel
	iface      string     // dr: the interface the VIP's packets arrive on
	persistent time.Duration
	quiescent  *bool
	fallback   string
	check      check
	reals      []*real
	backups    []*real
	monitors   []*monitor
}

type check struct {
	typ      string
	request  string
	receive  string
	host     string
	port     int // the port probed on each real's address; 0: its own
	program  string
	args     []string
	interval time.Duration
	timeout  time.Duration
	rise     int
	fall     int
}

type real struct {
	at      src
	note    string
	address string // "ADDR:PORT", "ADDR" or "[V6]:PORT"
	weight  int
	wset    bool
	request string // the real's own check request and receive (ldirectord)
	receive string
}

type monitor struct {
	at       src
	script   string
	args     []string
	interval time.Duration
}

// importer collects the model and the warnings of one import.
type importer struct {
	m     model
	warns []Warning
	used  map[netip.Addr]bool // placeholders: the model's addresses and those handed out
	// findScript finds a Heartbeat resource script's program (Heartbeat
	// imports only).
	findScript func(name string) (string, bool)
	lowered    map[string]bool // node names written in upper case, said once (nodeName)
}

// newImporter starts the import of file by `hactl import tool` of a
// balancer-only setup: the header says where the config came from, and the
// cluster is named after the tool.
func newImporter(tool, file string) *importer {
	im := &importer{}
	im.m.header = []string{
		"had.toml imported by `hactl import " + tool + "` from " + file + ".",
		"Each block names the file and line it came from; review every NOTE and PLACEHOLDER.",
	}
	im.m.cluster.at = src{file, 0}
	im.m.cluster.name = tool
	return im
}

// testNets are the documentation ranges of RFC 5737 (TEST-NET-1, -2 and
// -3): a placeholder from them can never be a real peer or VIP.
var testNets = [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}

// placeholders returns n stand-in addresses for ones a source does not
// give, from testNets in order (192.0.2.1 first), none an address the
// model holds: a source may use those ranges itself, and a placeholder
// equal to its VIP, its ping node or another node's address would not
// load. ok is false, and nothing is handed out, unless n+spare are left.
// The model's addresses are gathered once (the finish steps only remove
// from it) and each address handed out is added to them.
func (im *importer) placeholders(n, spare int) (addrs []string, ok bool) {
	if im.used == nil {
		im.used = im.m.addrs()
	}
	var free []netip.Addr
	for _, net := range testNets {
		for h := 1; h < 255 && len(free) < n+spare; h++ {
			if a := netip.AddrFrom4([4]byte{net[0], net[1], net[2], byte(h)}); !im.used[a] {
				free = append(free, a)
			}
		}
	}
	if len(free) < n+spare {
		return nil, false
	}
	for _, a := range free[:n] {
		im.used[a] = true
		addrs = append(addrs, a.String())
	}
	return addrs, true
}

// addrs is every IP address the model holds (unmapped), wherever it
// stands: link peers, ping nodes, resources, services' listen, reals,
// backups and fallback.
func (m *model) addrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	add := func(s string) {
		var a netip.Addr
		if ap, err := netip.ParseAddrPort(s); err == nil {
			a = ap.Addr()
		} else if p, err := netip.ParsePrefix(s); err == nil {
			a = p.Addr()
		} else if a, err = netip.ParseAddr(s); err != nil {
			return // a host name
		}
		out[a.Unmap()] = true
	}
	for _, l := range m.links {
		// any order: a set is built
		for _, a := range l.peers {
			add(a)
		}
	}
	for _, p := range m.pings {
		add(p.addr)
	}
	for _, g := range m.groups {
		for _, r := range g.resources {
			add(r.address)
			for _, a := range r.addrs {
				add(a)
			}
		}
	}
	for _, s := range m.services {
		add(s.listen)
		add(s.fallback)
		for _, r := range append(slices.Clip(s.reals), s.backups...) {
			add(r.address)
		}
	}
	return out
}

func (im *importer) warnf(at src, format string, args ...any) {
	im.warns = append(im.warns, Warning{File: at.file, Line: at.line, Msg: fmt.Sprintf(format, args...)})
}

func (im *importer) refusef(at src, format string, args ...any) {
	im.warns = append(im.warns, Warning{File: at.file, Line: at.line, Refused: true, Msg: fmt.Sprintf(format, args...)})
}

// result finishes the model (finish.go), writes it and returns the Result.
func (im *importer) result() *Result {
	im.finish()
	return &Result{TOML: im.m.render(), Warnings: im.warns}
}
