package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// conv turns raw values into Config values, collecting every error with the
// position of the key it concerns.
type conv struct {
	ix   *index
	errs Errors
}

func (c *conv) errorf(path, format string, args ...any) {
	c.errs = append(c.errs, &Error{Pos: c.ix.at(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// keyErrorf reports a problem with the key itself (an unknown node name used
// as a key), placed at the key rather than its value.
func (c *conv) keyErrorf(path, format string, args ...any) {
	pos, ok := c.ix.key[path]
	if !ok {
		pos = c.ix.at(path)
	}
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
	return a
}

// addrPort parses "ip:port" ("[v6]:port"); defPort fills a missing port when
// it is not 0.
func (c *conv) addrPort(path, v string, defPort uint16) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(v); err == nil {
		if ap.Port() == 0 {
			c.errorf(path, "%q: port 0 is not a port", v)
		}
		return ap
	}
	if a, err := netip.ParseAddr(v); err == nil && defPort != 0 {
		return netip.AddrPortFrom(a, defPort)
	}
	want := `"IP:PORT", e.g. "198.18.0.10:80" or "[2001:db8::1]:80"`
	if defPort != 0 {
		want = `"IP" or "IP:PORT"`
	}
	c.errorf(path, "%q is not an address, want %s", v, want)
	return netip.AddrPort{}
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

// timeoutWithin checks a probe timeout against its interval: a probe that
// outlives its interval would overlap the next one.
func (c *conv) timeoutWithin(path string, timeout, interval time.Duration) {
	if timeout > interval {
		c.errorf(path+".timeout", "%s is longer than interval %s: probes would overlap", timeout, interval)
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
	cfg.GARP = c.garp("garp", &r.GARP, defaultGARP)
	cfg.Links = c.links(r.Link, &cfg.Cluster)
	for i := range r.Ping {
		cfg.Pings = append(cfg.Pings, c.ping(idx("ping", i), &r.Ping[i]))
	}
	names := map[string]string{}
	for i := range r.Track {
		path := idx("track", i)
		t := c.track(path, &r.Track[i])
		c.unique(names, path+".name", t.Name, "track")
		cfg.Tracks = append(cfg.Tracks, t)
	}
	cfg.Services = c.services(r.Service)
	cfg.Groups = c.groups(r.Group, cfg)
	c.listenAddrs(cfg)
	cfg.Admin = c.admin(&r.Admin)
	return cfg
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
		seen := map[string]string{}
		for i, n := range r.Nodes {
			path := idx("cluster.nodes", i)
			if !validName(n, 64) {
				c.errorf(path, "%q: want 1..64 characters of A-Z a-z 0-9 . _ -", n)
				continue
			}
			c.unique(seen, path, n, "node")
		}
		if len(r.Nodes) < 2 {
			c.errorf("cluster.nodes", "want at least 2 nodes, found %d", len(r.Nodes))
		}
		cl.Nodes = r.Nodes
	}
	cl.Authkeys = c.str("cluster.authkeys", r.Authkeys, DefaultAuthkeys)
	if !filepath.IsAbs(cl.Authkeys) {
		cl.Authkeys = filepath.Join(filepath.Dir(c.ix.file), cl.Authkeys)
	}
	cl.StateDir = c.str("cluster.state_dir", r.StateDir, DefaultStateDir)
	cl.Socket = c.str("cluster.socket", r.Socket, DefaultSocket)
	cl.Notify = c.str("cluster.notify", r.Notify, "")
	cl.Port = uint16(c.integer("cluster.port", r.Port, DefaultPort, 1, 65535))
	cl.AutoFailback = r.AutoFailback
	c.timing(r, &cl)
	return cl
}

// timing fills and checks the heartbeat timers. Unset timers derive from the
// ones set, so that setting keepalive alone gives a consistent set.
func (c *conv) timing(r *rawCluster, cl *Cluster) {
	cl.Keepalive = c.duration("cluster.keepalive", r.Keepalive, DefaultKeepalive, false)
	cl.Deadtime = c.duration("cluster.deadtime", r.Deadtime, 5*cl.Keepalive, false)
	cl.Warntime = c.duration("cluster.warntime", r.Warntime, (cl.Keepalive+cl.Deadtime)/2, false)
	cl.Initdead = c.duration("cluster.initdead", r.Initdead, max(2*cl.Deadtime, 5*time.Second), false)
	cl.FailbackHold = c.duration("cluster.failback_hold", r.FailbackHold, 2*cl.Deadtime, true)

	if cl.Warntime <= cl.Keepalive {
		c.errorf("cluster.warntime", "%s must be longer than keepalive %s", cl.Warntime, cl.Keepalive)
	}
	if cl.Deadtime <= cl.Warntime {
		c.errorf("cluster.deadtime", "%s must be longer than warntime %s", cl.Deadtime, cl.Warntime)
	}
	if cl.Deadtime < 2*cl.Keepalive {
		c.errorf("cluster.deadtime", "%s is shorter than 2×keepalive (%s): a single lost heartbeat would declare the peer dead", cl.Deadtime, 2*cl.Keepalive)
	}
	if cl.Initdead < cl.Deadtime {
		c.errorf("cluster.initdead", "%s is shorter than deadtime %s: a starting node would take groups before it could hear its peers", cl.Initdead, cl.Deadtime)
	}
}

var defaultGARP = GARP{Count: 5, Interval: 200 * time.Millisecond, SecondBurst: 5 * time.Second, Form: "both"}

func (c *conv) garp(path string, r *rawGARP, def GARP) GARP {
	return GARP{
		Count:       int(c.integer(path+".count", r.Count, int64(def.Count), 1, 100)),
		Interval:    c.duration(path+".interval", r.Interval, def.Interval, true),
		SecondBurst: c.duration(path+".second_burst", r.SecondBurst, def.SecondBurst, true),
		Refresh:     c.duration(path+".refresh", r.Refresh, def.Refresh, true),
		Form:        c.oneOf(path+".form", r.Form, def.Form, "both", "request", "reply"),
	}
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
		l := Link{Interface: r.Interface}
		if c.required(path + ".kind") {
			l.Kind = c.oneOf(path+".kind", r.Kind, "", "mcast", "ucast")
		}
		l.Name = l.Kind + strconv.Itoa(perKind[l.Kind])
		perKind[l.Kind]++
		if c.ix.has(path + ".name") {
			l.Name = c.name(path+".name", r.Name, 32)
		}
		c.unique(names, path+".name", l.Name, "link")
		l.Port = uint16(c.integer(path+".port", r.Port, int64(cl.Port), 1, 65535))
		switch l.Kind {
		case "mcast":
			if c.required(path+".interface") && r.Interface == "" {
				c.errorf(path+".interface", "must not be empty")
			}
			if c.required(path + ".group") {
				if l.Group = c.addr(path+".group", r.Group); l.Group.IsValid() && !l.Group.IsMulticast() {
					c.errorf(path+".group", "%s is not a multicast address (want e.g. 239.255.0.94 or ff02::1:94)", l.Group)
				}
			}
			if c.ix.has(path + ".peers") {
				c.errorf(path+".peers", "peers is for ucast links; an mcast link reaches every node through its group")
			}
		case "ucast":
			if c.ix.has(path + ".group") {
				c.errorf(path+".group", "group is for mcast links; a ucast link sends to peers")
			}
			if c.required(path + ".peers") {
				l.Peers = c.peers(path+".peers", r.Peers, cl.Nodes)
			}
		}
		links = append(links, l)
	}
	return links
}

func (c *conv) peers(path string, r map[string]string, nodes []string) map[string]netip.Addr {
	peers := map[string]netip.Addr{}
	for _, k := range sortedKeys(r) {
		if !slices.Contains(nodes, k) {
			c.keyErrorf(path+"."+k, "%q is not a node in cluster.nodes", k)
			continue
		}
		if a := c.addr(path+"."+k, r[k]); a.IsValid() {
			peers[k] = a
		}
	}
	for _, n := range nodes {
		if _, ok := r[n]; !ok {
			c.errorf(path, "no address for node %q: every node needs one", n)
		}
	}
	return peers
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// defaultWeight is the ping/track penalty; see Ping.Weight.
const defaultWeight = 150

func (c *conv) ping(path string, r *rawPing) Ping {
	p := Ping{
		Interval: c.duration(path+".interval", r.Interval, time.Second, false),
		Weight:   int(c.integer(path+".weight", r.Weight, defaultWeight, 0, 254)),
	}
	p.Timeout = c.duration(path+".timeout", r.Timeout, min(time.Second, p.Interval), false)
	if c.required(path + ".address") {
		p.Address = c.addr(path+".address", r.Address)
	}
	c.timeoutWithin(path, p.Timeout, p.Interval)
	return p
}

func (c *conv) track(path string, r *rawTrack) Track {
	t := Track{
		Name:     c.name(path+".name", r.Name, 64),
		Args:     r.Args,
		Interval: c.duration(path+".interval", r.Interval, 2*time.Second, false),
		Weight:   int(c.integer(path+".weight", r.Weight, defaultWeight, 0, 254)),
	}
	t.Timeout = c.duration(path+".timeout", r.Timeout, min(time.Second, t.Interval), false)
	if c.required(path + ".script") {
		t.Script = c.str(path+".script", r.Script, "")
	}
	c.timeoutWithin(path, t.Timeout, t.Interval)
	return t
}
