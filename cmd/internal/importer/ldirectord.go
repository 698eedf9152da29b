package importer

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hapair/hapair/proxy/sched"
)

// Ldirectord imports an ldirectord.cf (ldirectord(8)). ldirectord run on its
// own has no cluster, so the output wraps its services in a template
// cluster, link and group to edit. The error is non-nil only when the file
// cannot be read.
func Ldirectord(path string) (*Result, error) {
	return importFile("ldirectord config", path, ldirectord)
}

func ldirectord(path string, data []byte) *Result {
	im := newImporter("ldirectord", path)
	im.parseLdirectord(path, data)
	im.m.template = true
	return im.result()
}

// ldirectord(8) defaults, used where the file sets nothing: hapair's own
// defaults differ, and an imported service should check as it did.
const (
	ldCheckInterval = 10 * time.Second
	ldCheckTimeout  = 5 * time.Second
	ldNegotiateTime = 30 * time.Second
)

// ldIgnored are ldirectord directives hapair does not carry over, with the
// reason.
var ldIgnored = map[string]string{
	"autoreload":       "had re-reads had.toml on `hactl reload` or SIGHUP, not by watching it",
	"callback":         "had re-reads had.toml on `hactl reload`; copy it to the peer yourself",
	"logfile":          "had logs to stderr (journald)",
	"emailalert":       "hapair sends no mail; use the notify hook (cluster.notify) or the admin /metrics",
	"emailalertfreq":   "hapair sends no mail",
	"emailalertstatus": "hapair sends no mail",
	"emailalertfrom":   "hapair sends no mail",
	"smtp":             "hapair sends no mail",
	"execute":          "import each ldirectord configuration separately",
	"fork":             "hapair checks every real concurrently anyway",
	"supervised":       "had runs under systemd",
	"maintenancedir":   "drain a real with `hactl real disable SERVICE REAL`",
	"readdquiescent":   "hapair keeps a quiescent real in its table by itself",
	"cleanstop":        "the balancer's table belongs to had and goes with it",
	"fallbackcommand":  "use the notify hook (cluster.notify)",
	"monitorfile":      "check results are in `hactl services` and the admin /metrics",
	"login":            "hapair has no login check for this service; connect is used",
	"passwd":           "hapair has no login check for this service; connect is used",
	"database":         "hapair has no database check; connect is used",
	"secret":           "hapair has no RADIUS check; connect is used",
	"sorryserver":      "use fallback=",
}

// ldVirtualOnly are the directives that belong in a virtual= section.
var ldVirtualOnly = map[string]bool{
	"real": true, "checktype": true, "checkcommand": true, "checkport": true, "request": true, "receive": true,
	"httpmethod": true, "virtualhost": true, "login": true, "passwd": true, "database": true, "secret": true,
	"scheduler": true, "persistent": true, "netmask": true, "protocol": true, "service": true, "monitorfile": true,
}

// ldSettable are directives allowed both globally and in a section, the
// section's value winning.
var ldSettable = map[string]bool{
	"checktimeout": true, "connecttimeout": true, "negotiatetimeout": true, "checkinterval": true,
	"checkcount": true, "failurecount": true, "quiescent": true, "fallback": true,
}

type ldValue struct {
	at  src
	val string
}

type ldVirtual struct {
	at    src
	spec  string
	opts  map[string]ldValue
	reals []ldValue
}

// parseLdirectord reads an ldirectord.cf and adds one service per virtual=
// section; it returns the services added.
func (im *importer) parseLdirectord(file string, data []byte) []*service {
	globals := map[string]ldValue{}
	var virtuals []*ldVirtual
	var cur *ldVirtual
	for _, l := range splitLines(data, false) {
		text := cutComment(l.text, true)
		if strings.TrimSpace(text) == "" {
			continue
		}
		at := src{file, l.n}
		indented := text[0] == ' ' || text[0] == '\t'
		key, val, ok := strings.Cut(strings.TrimSpace(text), "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			im.warnf(at, "%q is not a key=value directive; ignored", strings.TrimSpace(text))
			continue
		}
		if key == "virtual" || key == "virtual6" {
			cur = &ldVirtual{at: at, spec: unquote(val), opts: map[string]ldValue{}}
			virtuals = append(virtuals, cur)
			continue
		}
		if !indented && cur != nil && !ldVirtualOnly[key] {
			cur = nil // an unindented line ends the section (ldirectord(8))
		}
		if cur == nil {
			if ldVirtualOnly[key] {
				im.warnf(at, "%s= outside a virtual= section; ignored", key)
				continue
			}
			if first, dup := globals[key]; dup {
				im.warnf(at, "%s set again (first at line %d); the last one is used", key, first.at.line)
			}
			globals[key] = ldValue{at, val}
			continue
		}
		if !indented {
			im.warnf(at, "%s= is not indented: ldirectord wants section lines indented; taken as part of virtual= at line %d", key, cur.at.line)
		}
		if key == "real" {
			cur.reals = append(cur.reals, ldValue{at, val})
			continue
		}
		if first, dup := cur.opts[key]; dup {
			im.warnf(at, "%s set again in this section (first at line %d); the last one is used", key, first.at.line)
		}
		cur.opts[key] = ldValue{at, val}
	}
	for _, k := range slices.Sorted(maps.Keys(globals)) {
		v := globals[k]
		if ldSettable[k] {
			continue
		}
		if why, ok := ldIgnored[k]; ok {
			im.warnf(v.at, "%s: not carried over: %s", k, why)
		} else {
			im.warnf(v.at, "unknown ldirectord directive %q; ignored", k)
		}
	}
	var out []*service
	for _, v := range virtuals {
		if s := im.ldService(v, globals); s != nil {
			out = append(out, s)
			im.m.services = append(im.m.services, s)
		}
	}
	return out
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// opt returns a section's value, else the global one.
func (v *ldVirtual) opt(globals map[string]ldValue, key string) (ldValue, bool) {
	if x, ok := v.opts[key]; ok {
		return x, true
	}
	if ldSettable[key] {
		x, ok := globals[key]
		return x, ok
	}
	return ldValue{}, false
}

// ldService converts one virtual= section; nil when it cannot be converted.
func (im *importer) ldService(v *ldVirtual, globals map[string]ldValue) *service {
	used := map[string]bool{}
	get := func(k string) (ldValue, bool) {
		used[k] = true
		return v.opt(globals, k)
	}
	s := &service{at: v.at}
	if _, err := strconv.Atoi(v.spec); err == nil {
		im.refusef(v.at, "virtual=%s: firewall-mark services are not supported (hapair balances an address and port); service not imported", v.spec)
		return nil
	}
	proto := "tcp"
	if p, ok := get("protocol"); ok {
		switch strings.ToLower(unquote(p.val)) {
		case "tcp":
		case "udp":
			proto = "udp"
		default:
			im.refusef(p.at, "protocol=%s: hapair balances tcp and udp; service not imported", p.val)
			return nil
		}
	}
	ap, err := parseHostPort(v.spec, 0)
	if err != nil || ap.host != "" {
		im.refusef(v.at, "virtual=%s: want IP:PORT (a virtual address must be an address, not a host name); service not imported", v.spec)
		return nil
	}
	s.listen = ap.String()
	if proto == "udp" {
		s.protocol = "udp"
	}
	svcType := ""
	if t, ok := get("service"); ok {
		svcType = strings.ToLower(unquote(t.val))
	} else {
		svcType = ldServiceByPort[ap.port]
	}
	s.name = firstNonEmpty(svcType, proto) + "-" + strconv.Itoa(ap.port) // finishServices makes it a valid, unique name
	if sc, ok := get("scheduler"); ok {
		s.scheduler = im.scheduler(sc.at, "scheduler="+sc.val, unquote(sc.val))
	} else {
		s.scheduler = "wrr" // ldirectord's default
	}
	if p, ok := get("persistent"); ok {
		if n, err := strconv.Atoi(unquote(p.val)); err == nil && n > 0 {
			s.persistent = time.Duration(n) * time.Second
		} else {
			im.warnf(p.at, "persistent=%s is not a number of seconds; persistence left off", p.val)
		}
	}
	if nm, ok := get("netmask"); ok && unquote(nm.val) != "255.255.255.255" {
		im.warnf(nm.at, "netmask=%s: not carried over; hapair's persistence is per client address (netmask 255.255.255.255)", nm.val)
	}
	q := true // ldirectord's default: quiescent=yes
	if x, ok := get("quiescent"); ok {
		q = im.yesNo(x, "quiescent", true)
	}
	s.quiescent = &q
	if fb, ok := get("fallback"); ok {
		im.ldFallback(s, fb, ap.port)
	}
	methods := im.ldReals(s, v, ap.port)
	im.ldCheck(s, v, get, svcType, proto)
	im.ldRealChecks(s)
	im.forwarding(s, methods, "ldirectord")
	for _, k := range slices.Sorted(maps.Keys(v.opts)) {
		if used[k] {
			continue
		}
		x := v.opts[k]
		switch {
		case k == "httpmethod" || k == "virtualhost" || k == "request" || k == "receive" || k == "checkcommand" || k == "checkport":
			// read by ldCheck
		case ldIgnored[k] != "":
			im.warnf(x.at, "%s: not carried over: %s", k, ldIgnored[k])
		default:
			im.warnf(x.at, "unknown ldirectord directive %q; ignored", k)
		}
	}
	return s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// ldServiceByPort is how ldirectord picks service= when the file sets none:
// from the virtual port, for the services hapair checks natively.
var ldServiceByPort = map[int]string{80: "http", 443: "https", 5060: "sip"}

func (im *importer) yesNo(x ldValue, key string, def bool) bool {
	switch strings.ToLower(unquote(x.val)) {
	case "yes", "on", "true", "1":
		return true
	case "no", "off", "false", "0":
		return false
	}
	im.warnf(x.at, "%s=%s: want yes or no; %v used", key, x.val, def)
	return def
}

func (im *importer) ldFallback(s *service, fb ldValue, port int) {
	f := strings.Fields(unquote(fb.val))
	if len(f) == 0 {
		im.warnf(fb.at, "fallback= is empty; ignored")
		return
	}
	ap, err := parseHostPort(f[0], port)
	if err != nil {
		im.warnf(fb.at, "fallback=%s: want IP[:PORT] or HOST[:PORT]; no fallback imported", fb.val)
		return
	}
	s.fallback = ap.String()
	if len(f) > 1 {
		im.warnf(fb.at, "fallback %s: the forwarding method is not carried over (the fallback is reached like the service's reals)", f[1])
	}
}

// ldReals reads the real= lines; it returns each real's forwarding method.
func (im *importer) ldReals(s *service, v *ldVirtual, port int) []methodAt {
	var methods []methodAt
	for _, r := range v.reals {
		words, ok := shellWords(strings.ReplaceAll(r.val, ",", " "))
		if !ok || len(words) == 0 {
			im.refusef(r.at, "real=%s: unterminated quote; real not imported", r.val)
			continue
		}
		addrs, err := expandRange(words[0], port)
		if err != nil {
			im.refusef(r.at, "real=%s: %v; real not imported", words[0], err)
			continue
		}
		method, weight, wset := "gate", 1, false
		rest := words[1:]
		if len(rest) > 0 && (rest[0] == "gate" || rest[0] == "masq" || rest[0] == "ipip") {
			method, rest = rest[0], rest[1:]
		}
		if len(rest) > 0 {
			if n, err := strconv.Atoi(rest[0]); err == nil {
				if err := sched.CheckWeight(n); err != nil {
					im.warnf(r.at, "real weight: %v; 1 used", err)
				} else {
					weight, wset = n, true
				}
				rest = rest[1:]
			}
		}
		var request, receive string
		switch len(rest) {
		case 0:
		case 1, 2:
			request = rest[0]
			if len(rest) == 2 {
				receive = rest[1]
			}
		default:
			im.warnf(r.at, "real=%s: extra fields %q ignored (want [gate|masq|ipip] [weight] [\"request\", \"receive\"])", words[0], strings.Join(rest[2:], " "))
			request, receive = rest[0], rest[1]
		}
		for _, a := range addrs {
			s.reals = append(s.reals, &real{at: r.at, address: a.String(), weight: weight, wset: wset, request: request, receive: receive})
			methods = append(methods, methodAt{r.at, method})
		}
	}
	return methods
}
