package importer

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hapair/hapair/internal/config"
)

// kernelMethods says whether had.toml has a per-service `method` key (the
// kernel nat/dr data plane). Until it does, a service whose source forwarded
// with masq or gate gets the userspace balancer and a comment saying so.
const kernelMethods = true

// render writes m as had.toml. Blocks come in the schema's order (cluster,
// links, pings, groups, services) and each opens with a comment naming its
// source; nothing depends on map order.
func (m *model) render() []byte {
	var w tomlWriter
	for _, h := range m.header {
		w.comment(h)
	}
	c := &m.cluster
	w.table("[cluster]", c.at, c.notes)
	w.kv("name", q(c.name))
	w.kv("id", strconv.Itoa(c.id))
	w.kv("nodes", strs(c.nodes))
	if c.authkeys != "" {
		w.kv("authkeys", q(c.authkeys))
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{{"keepalive", c.keepalive}, {"warntime", c.warntime}, {"deadtime", c.deadtime}, {"initdead", c.initdead}} {
		if t.d > 0 {
			w.kv(t.key, dur(t.d))
		}
	}
	if c.failbackSet {
		w.kv("auto_failback", strconv.FormatBool(c.autoFailback))
	}
	if c.port != 0 {
		w.kv("port", strconv.Itoa(c.port))
	}
	for _, l := range m.links {
		w.table("[[link]]", l.at, l.notes)
		w.kv("kind", q(l.kind))
		if l.iface != "" {
			w.kv("interface", q(l.iface))
		}
		if l.group != "" {
			w.kv("group", q(l.group))
		}
		if l.port != 0 {
			w.kv("port", strconv.Itoa(l.port))
		}
		if len(l.peers) > 0 {
			var kvs []string
			for _, n := range slices.Sorted(maps.Keys(l.peers)) {
				kvs = append(kvs, q(n)+" = "+q(l.peers[n]))
			}
			w.kv("peers", "{ "+strings.Join(kvs, ", ")+" }")
		}
	}
	for _, p := range m.pings {
		w.table("[[ping]]", p.at, p.notes)
		w.kv("address", q(p.addr))
	}
	for _, g := range m.groups {
		w.table("[[group]]", g.at, g.notes)
		w.kv("name", q(g.name))
		w.kv("preferred", q(g.preferred))
		w.line("resources = [")
		for _, r := range g.resources {
			w.element(r.inline(), r.at, r.note)
		}
		w.line("]")
	}
	for _, s := range m.services {
		s.render(&w)
	}
	return []byte(w.b.String())
}

func (s *service) render(w *tomlWriter) {
	w.table("[[service]]", s.at, s.notes)
	w.kv("name", q(s.name))
	w.kv("listen", q(s.listen))
	if s.protocol != "" {
		w.kv("protocol", q(s.protocol))
	}
	if s.kernel {
		w.kv("method", q(string(s.method)))
		if s.iface != "" {
			w.kv("interface", q(s.iface))
		}
	}
	if s.scheduler != "" {
		w.kv("scheduler", q(s.scheduler))
	}
	if s.persistent > 0 {
		w.kv("persistent", dur(s.persistent))
	}
	if s.quiescent != nil {
		w.kv("quiescent", strconv.FormatBool(*s.quiescent))
	}
	if s.fallback != "" {
		w.kv("fallback", q(s.fallback))
	}
	if ck := s.check.inline(); ck != "" {
		w.kv("check", ck)
	}
	for _, pool := range []struct {
		key   string
		reals []*real
	}{{"reals", s.reals}, {"backups", s.backups}} {
		if len(pool.reals) == 0 {
			continue
		}
		w.line(pool.key + " = [")
		for _, r := range pool.reals {
			f := []string{"address = " + q(r.address)}
			if r.wset {
				f = append(f, "weight = "+strconv.Itoa(r.weight))
			}
			if r.request != "" {
				f = append(f, "request = "+q(r.request))
			}
			if r.receive != "" {
				f = append(f, "receive = "+q(r.receive))
			}
			w.element("{ "+strings.Join(f, ", ")+" }", r.at, r.note)
		}
		w.line("]")
	}
	if len(s.monitors) > 0 {
		w.line("monitors = [")
		for _, mo := range s.monitors {
			f := []string{"script = " + q(mo.script)}
			if len(mo.args) > 0 {
				f = append(f, "args = "+strs(mo.args))
			}
			if mo.interval > 0 {
				f = append(f, "interval = "+dur(mo.interval))
			}
			w.element("{ "+strings.Join(f, ", ")+" }", mo.at, "")
		}
		w.line("]")
	}
}

func (r *resource) inline() string {
	f := []string{"kind = " + q(r.kind)}
	add := func(k, v string) {
		if v != "" {
			f = append(f, k+" = "+q(v))
		}
	}
	switch r.kind {
	case config.KindVIP:
		add("address", r.address)
		add("interface", r.iface)
		add("label", r.label)
	case config.KindBalancer:
		f = append(f, "services = "+strs(r.services))
	case config.KindIPVSSync:
		add("role", r.role)
		add("interface", r.iface)
		if r.syncID != 0 {
			f = append(f, "sync_id = "+strconv.Itoa(r.syncID))
		}
	case config.KindScript:
		add("path", r.path)
	case config.KindConntrackSync:
		add("interface", r.iface)
		f = append(f, "addresses = "+strs(r.addrs))
		if r.port != 0 {
			f = append(f, "port = "+strconv.Itoa(r.port))
		}
	}
	return "{ " + strings.Join(f, ", ") + " }"
}

func (c *check) inline() string {
	var f []string
	add := func(k, v string) {
		if v != "" {
			f = append(f, k+" = "+q(v))
		}
	}
	add("type", c.typ)
	add("request", c.request)
	add("receive", c.receive)
	add("host", c.host)
	if c.port != 0 {
		f = append(f, "port = "+strconv.Itoa(c.port))
	}
	add("program", c.program)
	if len(c.args) > 0 {
		f = append(f, "args = "+strs(c.args))
	}
	if c.interval > 0 {
		f = append(f, "interval = "+dur(c.interval))
	}
	if c.timeout > 0 {
		f = append(f, "timeout = "+dur(c.timeout))
	}
	if c.rise > 0 {
		f = append(f, "rise = "+strconv.Itoa(c.rise))
	}
	if c.fall > 0 {
		f = append(f, "fall = "+strconv.Itoa(c.fall))
	}
	if len(f) == 0 {
		return ""
	}
	return "{ " + strings.Join(f, ", ") + " }"
}

// tomlWriter builds the text. Comments never hold a raw newline or control
// character from the source: see commentText.
type tomlWriter struct {
	b strings.Builder
}

func (w *tomlWriter) line(s string) {
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *tomlWriter) comment(s string) {
	if s == "" {
		w.line("#")
		return
	}
	w.line("# " + commentText(s))
}

// table opens a table or array-of-tables header, after a blank line, with
// the source as a trailing comment and the notes as comment lines above it.
func (w *tomlWriter) table(header string, at src, notes []string) {
	if w.b.Len() > 0 {
		w.line("")
	}
	for _, n := range notes {
		w.comment(n)
	}
	if at.file != "" {
		header += "  # from " + commentText(at.String())
	}
	w.line(header)
}

func (w *tomlWriter) kv(key, val string) { w.line(key + " = " + val) }

// element writes one element of a multi-line array with its source.
func (w *tomlWriter) element(val string, at src, note string) {
	if note != "" {
		w.line("  # " + commentText(note))
	}
	s := "  " + val + ","
	if at.file != "" {
		s += "  # " + commentText(at.String())
	}
	w.line(s)
}

// commentText makes s safe inside a TOML comment: TOML forbids control
// characters other than tab there, and a newline would end the comment.
func commentText(s string) string {
	s = asWritten(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// asWritten is s as q and commentText write it: TOML is UTF-8, so each
// invalid sequence becomes U+FFFD (3 bytes: a length check must see this).
func asWritten(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// q quotes s as a TOML basic string.
func q(s string) string {
	s = asWritten(s)
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func strs(ss []string) string {
	qs := make([]string, len(ss))
	for i, s := range ss {
		qs[i] = q(s)
	}
	return "[" + strings.Join(qs, ", ") + "]"
}

// dur writes d as a Go duration string in its largest exact unit: "2s",
// "500ms", "120s" (not time.Duration's "2m0s").
func dur(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return q(strconv.FormatInt(int64(d/time.Second), 10) + "s")
	case d%time.Millisecond == 0:
		return q(strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms")
	case d%time.Microsecond == 0:
		return q(strconv.FormatInt(int64(d/time.Microsecond), 10) + "us")
	}
	return q(d.String())
}
