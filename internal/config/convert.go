package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/ping"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/probe"
	"github.com/hapair/hapair/internal/runner"
	"github.com/hapair/hapair/internal/unicast"
)

// conv turns raw values into Config values, collecting every error with the
// position of the key it concerns.
type conv struct {
	ix       *index
	errs     Errors
	read     map[string]bool // keys found wrong while reading them
	ruled    map[string]bool // keys a domain package's rules found wrong (domain)
	resolver Resolver        // for host names (nil: DefaultResolver)
	rules    ServiceRules    // the [[service]] section's reader
	// unsure is set when a resource's kind or a vip's address could not
	// be read: which services a balancer activates and which addresses
	// are VIPs is then unknown, and is not reported on top. nodes is set
	// when cluster.nodes holds a bad or repeated name or fewer than two
	// nodes, services when a
	// service's name is bad: which node or service a reference meant is
	// then unknown ("lb2" in peers after nodes = ["lb1", "lb 2"]), and
	// the references are not reported on top of the name.
	unsure struct{ kinds, vips, nodes, services bool }
	warns  Errors // Config.Warnings, kept with their positions to list them in file order
}

// warnf records a warning about the key at path.
func (c *conv) warnf(path, format string, args ...any) {
	c.warns = append(c.warns, &Error{Pos: c.ix.at(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *conv) errorf(path, format string, args ...any) {
	c.mark(path)
	c.errs = append(c.errs, &Error{Pos: c.ix.at(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *conv) mark(path string) {
	if c.read == nil {
		c.read = map[string]bool{}
	}
	c.read[path] = true
}

// keyErrorf reports a problem with the key itself (an unknown node name used
// as a key), placed at the key rather than its value.
func (c *conv) keyErrorf(path, format string, args ...any) {
	pos, ok := c.ix.key[path]
	if !ok {
		pos = c.ix.at(path)
	}
	c.mark(path)
	c.errs = append(c.errs, &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// required reports whether path was written, and records an error if not.
func (c *conv) required(path string) bool {
	if c.ix.has(path) {
		return true
	}
	c.errorf(path, "required")
	return false
}

func (c *conv) str(path, v, def string) string {
	if !c.ix.has(path) {
		return def
	}
	if v == "" {
		c.errorf(path, "must not be empty")
		return def
	}
	return v
}

// path reads a file name at path as str does and reports one holding a
// control character: a file could have it, but it is a mistake (an
// escape written by hand), and the state directory goes into
// conntrackd.conf, whose lines it would break.
func (c *conv) path(path, v, def string) string {
	v = c.str(path, v, def)
	if strings.ContainsFunc(v, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		c.errorf(path, "%q holds a control character: a file name here takes none", v)
	}
	return v
}

// maxIfname is IFNAMSIZ (16) less the terminating NUL: the longest
// interface name Linux accepts (dev_valid_name in net/core/dev.c).
const maxIfname = 15

// ifname reads an interface name at path as str does and reports one that
// no Linux interface can have (too long, or with "/", ":" or white space,
// which dev_valid_name refuses); whether it exists is the host's business.
func (c *conv) ifname(path, v string) string {
	v = c.str(path, v, "")
	if err := IfnameError(v); err != nil {
		c.errorf(path, "%v", err)
	}
	return v
}

// VIPAddressError reports why p cannot be a virtual address (ha/vip's
// rule, vip.AddressError), nil when it can. It is the rule Load applies to
// every vip resource, for the importer, which may not import ha/vip.
func VIPAddressError(p netip.Prefix) error { return vip.AddressError(p) }

// VIPBroadcast is vip.Broadcast, the broadcast address of an IPv4
// prefix's subnet, for the importer, which may not import ha/vip.
func VIPBroadcast(p netip.Prefix) netip.Addr { return vip.Broadcast(p) }

// IfnameError reports why name cannot be a Linux interface name (too
// long, or with "/", ":" or white space, which dev_valid_name in
// net/core/dev.c refuses), nil when it can or when name is empty (not
// given). It is the rule Load applies to every interface key. Other
// control characters, which the kernel takes, are refused too: the name
// goes into nftables rules and conntrackd.conf, and no tool shows it.
func IfnameError(name string) error {
	switch {
	case len(name) > maxIfname:
		return fmt.Errorf("%q is longer than %d bytes, the most a Linux interface name has", name, maxIfname)
	case strings.ContainsFunc(name, func(c rune) bool { return c <= ' ' || c == 0x7f }):
		return fmt.Errorf("%q is not a valid Linux interface name: it holds white space or a control character", name)
	case name == "." || name == ".." || strings.ContainsAny(name, "/:"):
		return fmt.Errorf("%q is not a valid Linux interface name", name)
	}
	return nil
}

// duration parses a Go duration; zeroOK allows "0" (meaning off).
func (c *conv) duration(path, v string, def time.Duration, zeroOK bool) time.Duration {
	if !c.ix.has(path) {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		c.errorf(path, `%q is not a duration (want e.g. "250ms", "2s", "5m")`, v)
		return def
	case d < 0 || d == 0 && !zeroOK:
		c.errorf(path, "%s: want a positive duration", v)
		return def
	}
	return d
}

func (c *conv) integer(path string, v, def, lo, hi int64) int64 {
	if !c.ix.has(path) {
		return def
	}
	if v < lo || v > hi {
		c.errorf(path, "%d is out of range %d..%d", v, lo, hi)
		return def
	}
	return v
}

func (c *conv) oneOf(path, v, def string, allowed ...string) string {
	if !c.ix.has(path) {
		return def
	}
	if !slices.Contains(allowed, v) {
		c.errorf(path, "%q is not one of %s", v, strings.Join(allowed, ", "))
		return def
	}
	return v
}

func (c *conv) addr(path, v string) netip.Addr {
	a, err := netip.ParseAddr(v)
	if err != nil {
		c.errorf(path, "%q is not an IP address", v)
		return netip.Addr{}
	}
	c.placeholder(path, a)
	return a
}

// docRanges are the IPv4 blocks RFC 5737 reserves for documentation.
var docRanges = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24")}

// placeholder warns about an address in a documentation range at path:
// hactl import writes one where its source gives no address, and a file
// that still holds it would serve nobody. A warning, not an error: some
// labs number themselves from these ranges.
func (c *conv) placeholder(path string, a netip.Addr) {
	for _, p := range docRanges {
		if p.Contains(a.Unmap()) {
			c.warnf(path, "%s is in %s, reserved for documentation (RFC 5737): if it is a placeholder (hactl import writes one where its source gives no address), put the site's address here", a, p)
			return
		}
	}
}

// addrPort parses "ip:port" ("[v6]:port"); defPort fills a missing port when
// it is not 0.
func (c *conv) addrPort(path, v string, defPort uint16) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		if ap.Port() == 0 {
			c.errorf(path, "%q: port 0 is not a port", v)
		}
		c.linkLocal(path, ap.Addr())
		c.placeholder(path, ap.Addr())
		return ap
	}
	if a, err := netip.ParseAddr(v); err == nil && defPort != 0 {
		c.linkLocal(path, a)
		c.placeholder(path, a)
		return netip.AddrPortFrom(a, defPort)
	}
	want := `"IP:PORT", e.g. "198.18.0.10:80" or "[2001:db8::1]:80"`
	if defPort != 0 {
		want = `"IP" or "IP:PORT"`
	}
	c.errorf(path, "%q is not an address, want %s", v, want)
	return netip.AddrPort{}
}

// linkLocal reports an IPv6 link-local address without a zone at path,
// where a socket binds or connects to it: the kernel refuses one that
// names no interface (EINVAL), so had would fail to listen or every
// connection to the real would.
func (c *conv) linkLocal(path string, a netip.Addr) {
	if a.Is6() && a.IsLinkLocalUnicast() && a.Zone() == "" {
		c.errorf(path, "%s is an IPv6 link-local address, which a socket cannot use without naming its interface; use a global or unique local address", a)
	}
}

// admin checks the [admin] listener: off unless listen is set, loopback
// unless allow_remote says otherwise (it has no authentication).
func (c *conv) admin(r *rawAdmin) Admin {
	a := Admin{AllowRemote: r.AllowRemote}
	if !c.ix.has("admin.listen") {
		return a
	}
	a.Listen = c.addrPort("admin.listen", r.Listen, 0)
	if a.Listen.IsValid() && !a.Listen.Addr().IsLoopback() && !a.AllowRemote {
		c.errorf("admin.listen", "%q is not a loopback address: the admin listener has no authentication; set admin.allow_remote = true to serve it beyond this host", r.Listen)
	}
	return a
}

// timeoutWithin checks a probe's interval and timeout with internal/probe's
// rule (CheckTiming), at the key it names.
func (c *conv) timeoutWithin(path string, timeout, interval time.Duration) {
	if c.read[path+".interval"] || c.read[path+".timeout"] {
		return // a default stands in for the one written wrong: its own error is the one
	}
	if key, err := probe.CheckTiming(interval, timeout, "a hung target would be probed once per timeout, so fall × interval would not bound detection"); err != nil {
		c.errorf(path+"."+key, "%v", err)
	}
}

// validName reports whether s is 1..max bytes of [A-Za-z0-9._-]: names end up
// in packets, logs, file names and labels.
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// ValidName reports whether s is a name had.toml takes for a key of at most
// max bytes (cluster 64, link 32, group and service 64): 1..max bytes of
// A-Z a-z 0-9 . _ -. It is the rule Load applies; importers that derive
// names from other tools' configs call it rather than copy it.
func ValidName(s string, max int) bool { return validName(s, max) }

func (c *conv) name(path, v string, max int) string {
	if !c.required(path) {
		return ""
	}
	if !validName(v, max) {
		c.errorf(path, "%q: want 1..%d characters of A-Z a-z 0-9 . _ -", v, max)
	}
	return v
}

func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func (c *conv) config(r *rawFile, file string) *Config {
	cfg := &Config{File: file}
	cfg.Cluster = c.cluster(&r.Cluster)
	if c.ix.has("cluster.authkeys") {
		cfg.authkeysAt = c.ix.at("cluster.authkeys")
	}
	cfg.GARP = c.garp("garp", &r.GARP, GARP{})
	cfg.Links = c.links(r.Link, &cfg.Cluster)
	pingAt := map[netip.Addr]string{}
	for i := range r.Ping {
		path := idx("ping", i)
		p := c.ping(path, &r.Ping[i])
		if first, dup := pingAt[p.Address]; dup && p.Address.IsValid() {
			c.errorf(path+".address", "ping node %s is listed again (first at %s)", p.Address, c.ix.at(first))
		}
		pingAt[p.Address] = path + ".address"
		cfg.Pings = append(cfg.Pings, p)
	}
	names := map[string]string{}
	for i := range r.Track {
		path := idx("track", i)
		t := c.track(path, &r.Track[i])
		c.unique(names, path+".name", t.Name, "track")
		cfg.Tracks = append(cfg.Tracks, t)
	}
	cfg.Services = c.rules.Services(&Keys{c}, r.Service)
	for i := range cfg.Services {
		c.unsure.services = c.unsure.services || c.reported(idx("service", i)+".name")
	}
	cfg.BGP = c.bgp(&r.BGP, cfg.Cluster.Nodes)
	cfg.Groups = c.groups(r.Group, cfg)
	c.daemonDirs(cfg)
	c.bgpChecks(cfg)
	c.mootKeys(cfg)
	c.machine(cfg)
	c.crossChecks(cfg)
	cfg.Admin = c.admin(&r.Admin)
	c.adminPort(cfg)
	c.warns.sort()
	for _, w := range c.warns {
		cfg.warnings = append(cfg.warnings, w.Error())
	}
	return cfg
}

// nodeRefs drops a link's errors about its peers' node names ("not a
// node", "no address for node") when the nodes are unsure (a bad name in
// cluster.nodes, or a node left out): that is the one cause, reported at
// cluster.nodes.
func (c *conv) nodeRefs(err error) error {
	if !c.unsure.nodes {
		return err
	}
	var out []error
	for _, fe := range field.All(err) {
		if fe.Path != "peers" && !strings.HasPrefix(fe.Path, "peers.") {
			out = append(out, fe)
		}
	}
	return errors.Join(out...)
}

// unique records name under path in seen and reports a second use.
func (c *conv) unique(seen map[string]string, path, name, what string) {
	if name == "" {
		return
	}
	if first, dup := seen[name]; dup {
		c.errorf(path, "%s name %q used again (first at %s)", what, name, c.ix.at(first))
		return
	}
	seen[name] = path
}

func (c *conv) cluster(r *rawCluster) Cluster {
	cl := Cluster{Name: c.name("cluster.name", r.Name, 64)}
	if c.required("cluster.id") {
		cl.ID = uint32(c.integer("cluster.id", r.ID, 0, 1, 255))
	}
	if c.required("cluster.nodes") {
		cl.Nodes = r.Nodes // ha validates them (machine)
		// A node left out, or named wrong, is still named elsewhere.
		c.unsure.nodes = len(r.Nodes) < 2
		for i, n := range r.Nodes {
			c.unsure.nodes = c.unsure.nodes || !validName(n, wire.MaxSender) ||
				slices.IndexFunc(r.Nodes[:i], func(m string) bool { return strings.EqualFold(m, n) }) >= 0
		}
	}
	cl.Authkeys = c.path("cluster.authkeys", r.Authkeys, DefaultAuthkeys)
	if !filepath.IsAbs(cl.Authkeys) {
		cl.Authkeys = filepath.Join(filepath.Dir(c.ix.file), cl.Authkeys)
	}
	cl.StateDir = c.path("cluster.state_dir", r.StateDir, DefaultStateDir)
	if !filepath.IsAbs(cl.StateDir) {
		// had would keep its generation counter wherever it was started.
		c.errorf("cluster.state_dir", "%q: want an absolute path", cl.StateDir)
	}
	cl.Socket = c.path("cluster.socket", r.Socket, ctl.DefaultSocket)
	if err := ctl.CheckSocketName(cl.Socket); err != nil && !c.read["cluster.socket"] {
		c.errorf("cluster.socket", "%v", err)
	}
	cl.Notify = c.program("cluster.notify", r.Notify)
	cl.Port = uint16(c.integer("cluster.port", r.Port, link.DefaultPort, 1, 65535))
	cl.AutoFailback = r.AutoFailback
	cl.Realtime = true
	if c.ix.has("cluster.realtime") {
		cl.Realtime = r.Realtime
	}
	// Timers are read as written (0 = unset); machine fills the defaults
	// from ha.Config.WithDefaults and checks their order there.
	cl.Keepalive = c.duration("cluster.keepalive", r.Keepalive, 0, false)
	cl.Deadtime = c.duration("cluster.deadtime", r.Deadtime, 0, false)
	cl.Warntime = c.duration("cluster.warntime", r.Warntime, 0, false)
	cl.Initdead = c.duration("cluster.initdead", r.Initdead, 0, false)
	cl.FailbackHold = c.duration("cluster.failback_hold", r.FailbackHold, 0, false)
	return cl
}

// program reads an optional program path that had runs by itself (a notify
// hook, a track script): ha/script's rule, an absolute path.
func (c *conv) program(path, v string) string {
	if !c.ix.has(path) {
		return ""
	}
	if err := script.CheckProgram(v); err != nil {
		c.errorf(path, "%v", err)
	}
	return v
}

// garp reads a [garp] table over def; the zero def means vip's defaults.
// vip.Schedule.Validate checks it: the [garp] table here, each vip's
// merged schedule in its resource.
func (c *conv) garp(path string, r *rawGARP, def GARP) GARP {
	if def == (GARP{}) {
		d := vip.DefaultSchedule
		def = GARP{Count: d.Count, Interval: d.Interval, SecondBurst: d.SecondDelay, Refresh: d.Refresh, Form: vip.FormBoth.String()}
	}
	g := GARP{
		Count:       int(c.integer(path+".count", r.Count, int64(def.Count), math.MinInt32, math.MaxInt32)),
		Interval:    c.duration(path+".interval", r.Interval, def.Interval, true),
		SecondBurst: c.duration(path+".second_burst", r.SecondBurst, def.SecondBurst, true),
		Refresh:     c.duration(path+".refresh", r.Refresh, def.Refresh, true),
		Form:        def.Form,
	}
	if c.ix.has(path + ".form") {
		if f, err := vip.ParseForm(r.Form); err != nil {
			c.errorf(path+".form", "%q is not one of both, request, reply", r.Form)
		} else {
			g.Form = f.String()
		}
	}
	if path == "garp" {
		c.domain(g.schedule().Validate(), func(p string) string { return "garp." + p })
	}
	return g
}

// schedule is g as vip takes it; the second burst repeats the first.
func (g GARP) schedule() vip.Schedule {
	return vip.Schedule{Count: g.Count, Interval: g.Interval, SecondDelay: g.SecondBurst, SecondCount: g.Count, Refresh: g.Refresh}
}

// linkKeys are the keys each link kind takes.
var linkKeys = map[string][]string{
	link.KindMcast: {"name", "kind", "interface", "group", "port"},
	link.KindUcast: {"name", "kind", "interface", "port", "peers"},
}

func (c *conv) links(rs []rawLink, cl *Cluster) []Link {
	if len(rs) == 0 {
		c.errorf("link", "at least one [[link]] is required: it is the heartbeat path")
		return nil
	}
	var links []Link
	perKind := map[string]int{}
	names := map[string]string{}
	for i := range rs {
		r, path := &rs[i], idx("link", i)
		l := Link{Interface: c.ifname(path+".interface", r.Interface)}
		if c.required(path + ".kind") {
			l.Kind = r.Kind
			c.kindKeys(path, "link", r.Kind, linkKeys)
		}
		l.Name = l.Kind + strconv.Itoa(perKind[l.Kind])
		perKind[l.Kind]++
		if c.ix.has(path + ".name") {
			l.Name = c.name(path+".name", r.Name, 32)
		}
		c.unique(names, path+".name", l.Name, "link")
		l.Port = uint16(c.integer(path+".port", r.Port, int64(cl.Port), 1, 65535))
		if c.ix.has(path + ".group") {
			l.Group = c.addr(path+".group", r.Group)
		}
		// A peer written but not an address is reported once, as that: the
		// link's rules get it as the zero Addr, which they do not call
		// missing.
		var written map[string]netip.Addr
		if c.ix.has(path + ".peers") {
			l.Peers, written = map[string]netip.Addr{}, map[string]netip.Addr{}
			for _, k := range slices.Sorted(maps.Keys(r.Peers)) {
				a := c.addr(path+".peers."+k, r.Peers[k])
				if a.IsValid() {
					l.Peers[k] = a
				}
				written[k] = a
			}
		}
		if _, ok := linkKeys[l.Kind]; ok {
			spec := link.Spec{Name: l.Name, Kind: l.Kind, Interface: l.Interface, Group: l.Group, Port: l.Port, Peers: written}
			c.domain(c.nodeRefs(spec.Validate(cl.Nodes)), func(p string) string { return path + "." + p })
		}
		links = append(links, l)
	}
	return links
}

// kindKeys checks kind against the table and reports every key written
// under path that the kind does not use, naming the key and the kind.
func (c *conv) kindKeys(path, what, kind string, table map[string][]string) bool {
	allowed, ok := table[kind]
	if !ok {
		c.errorf(path+".kind", "%q is not one of %s", kind, strings.Join(slices.Sorted(maps.Keys(table)), ", "))
		return false
	}
	for _, k := range c.ix.childKeys(path) {
		if !slices.Contains(allowed, k) && known(table, k) {
			c.keyErrorf(path+"."+k, "key %q is not used by %s kind %q", k, what, kind)
		}
	}
	return true
}

// known reports whether some kind in table takes key; keys none takes are
// unknown keys, which the strict decode reports.
func known(table map[string][]string, key string) bool {
	for _, keys := range table {
		if slices.Contains(keys, key) {
			return true
		}
	}
	return false
}

func (c *conv) ping(path string, r *rawPing) Ping {
	p := Ping{
		Interval: c.duration(path+".interval", r.Interval, ping.DefaultInterval, false),
		Weight:   c.checkWeight(path+".weight", r.Weight),
	}
	p.Timeout = c.duration(path+".timeout", r.Timeout, ping.TimeoutFor(p.Interval), false)
	if c.required(path + ".address") {
		p.Address = c.addr(path+".address", r.Address)
		switch a := p.Address; {
		case !a.IsValid():
		case a.IsLoopback():
			c.errorf(path+".address", "%s is a loopback address: this host always answers it, so it breaks no tie; want an address beyond this host (e.g. the gateway)", a)
		case unicast.Problem(a.WithZone("")) != "":
			c.errorf(path+".address", "%s cannot answer an ICMP echo: %s; want a unicast address (e.g. the gateway)", a, unicast.Problem(a.WithZone("")))
		case a.Is6() && a.IsLinkLocalUnicast() && a.Zone() == "":
			// A zone is how a link-local gateway is pinged (ha/ping
			// sends with it); without one no socket can.
			c.errorf(path+".address", "%s is an IPv6 link-local address: name the interface it is on, as %s%%eth0, or no echo can be sent", a, a)
		}
	}
	c.timeoutWithin(path, p.Timeout, p.Interval)
	return p
}

// checkWeight reads a ping node's or track check's weight with ha's
// default and rule (ha.CheckWeight); ha.Config carries it as a byte, so
// the rule is applied here, before the conversion would wrap it.
func (c *conv) checkWeight(path string, v int64) int {
	w := int(c.integer(path, v, int64(ha.DefaultCheckWeight), math.MinInt32, math.MaxInt32))
	if err := ha.CheckWeight(w); err != nil {
		c.errorf(path, "%v", err)
		return int(ha.DefaultCheckWeight)
	}
	return w
}

func (c *conv) track(path string, r *rawTrack) Track {
	t := Track{
		Name:     c.name(path+".name", r.Name, 64),
		Args:     r.Args,
		Interval: c.duration(path+".interval", r.Interval, ping.DefaultInterval, false),
		Weight:   c.checkWeight(path+".weight", r.Weight),
	}
	// A ping node counts toward isolation whatever its weight; a track
	// check acts only through it.
	if c.ix.has(path+".weight") && r.Weight == 0 {
		c.errorf(path+".weight", "0 makes the check change nothing: a failed track check lowers every group's priority here by its weight (keepalived's weight 0 puts the instance in FAULT instead); give it a weight, e.g. %d, more than the preferred node's lead", ha.DefaultCheckWeight)
	}
	t.Timeout = c.duration(path+".timeout", r.Timeout, ping.TimeoutFor(t.Interval), false)
	if c.required(path + ".script") {
		t.Script = c.program(path+".script", r.Script)
	}
	c.timeoutWithin(path, t.Timeout, t.Interval)
	c.args(path+".args", r.Args)
	return t
}

// args reports each argument had would pass to a program that it cannot
// (runner.TextError), at its key.
func (c *conv) args(path string, args []string) {
	for i, a := range args {
		if err := runner.TextError(a); err != nil {
			c.errorf(idx(path, i), "%v", err)
		}
	}
}
