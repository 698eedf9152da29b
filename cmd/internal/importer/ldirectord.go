package importer

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	pcheck "github.com/hapair/hapair/proxy/check"
)

// Ldirectord imports an ldirectord.cf (ldirectord(8)). ldirectord run on its
// own has no cluster, so the output wraps its services in a template
// cluster, link and group to edit. The error is non-nil only when the file
// cannot be read.
func Ldirectord(path string) (*Result, error) {
	data, err := readDisk(path)
	if err != nil {
		return nil, fmt.Errorf("importer: reading ldirectord config: %w", err)
	}
	return ldirectord(path, data), nil
}

func ldirectord(path string, data []byte) *Result {
	im := &importer{}
	im.m.header = []string{
		"had.toml imported by `hactl import ldirectord` from " + path + ".",
		"Each block names the file and line it came from; review every NOTE and PLACEHOLDER.",
	}
	im.m.cluster.at = src{path, 0}
	im.m.cluster.name = "ldirectord"
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
	"checkport":        "hapair checks each real on its own port",
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
	for _, k := range sortedKeys(globals) {
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
	s.name = sanitizeName(firstNonEmpty(svcType, proto)+"-"+strconv.Itoa(ap.port), 60)
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
	for _, k := range sortedKeys(v.opts) {
		if used[k] {
			continue
		}
		x := v.opts[k]
		switch {
		case k == "httpmethod" || k == "virtualhost" || k == "request" || k == "receive" || k == "checkcommand":
			// read by ldCheck
		case ldIgnored[k] != "":
			im.warnf(x.at, "%s: not carried over: %s", k, ldIgnored[k])
		default:
			im.warnf(x.at, "unknown ldirectord directive %q; ignored", k)
		}
	}
	return s
}

// ldRealChecks keeps a real's own request and receive where the service's
// check sends a request (negotiate, N; http takes a request only) and
// warns where it does not.
func (im *importer) ldRealChecks(s *service) {
	c := &s.check
	negotiates := c.typ == "negotiate" || isDigits(c.typ)
	for _, r := range s.reals {
		if r.request != "" {
			if negotiates || c.typ == "http" {
				r.request = pcheck.NormalizeRequest(r.request)
			} else {
				im.warnf(r.at, "real %s: its request %q is not carried over: the service's check (%s) sends none", r.address, r.request, firstNonEmpty(c.typ, "off"))
				r.request = ""
			}
		}
		if r.receive != "" {
			_, err := regexp.Compile(r.receive)
			switch {
			case !negotiates:
				im.warnf(r.at, "real %s: its receive %q is not carried over: the service's check (%s) matches no body", r.address, r.receive, firstNonEmpty(c.typ, "off"))
				r.receive = ""
			case err != nil:
				im.warnf(r.at, "real %s: its receive %q is not an RE2 regexp (%v); the service's is used", r.address, r.receive, err)
				r.receive = ""
			}
		}
	}
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
				if n < 0 || n > 65535 {
					im.warnf(r.at, "real weight %d is out of range 0..65535; 1 used", n)
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

type hostPort struct {
	addr netip.Addr
	host string // a host name instead of addr
	port int    // 0 = none given
}

func (h hostPort) String() string {
	a := h.host
	if a == "" {
		a = h.addr.String()
		if h.addr.Is6() && h.port != 0 {
			a = "[" + a + "]"
		}
	}
	if h.port == 0 {
		return a
	}
	return a + ":" + strconv.Itoa(h.port)
}

// parseHostPort reads ADDR, ADDR:PORT, [V6]:PORT, HOST or HOST:PORT; a port
// may be a service name (ldirectord and ipvsadm accept /etc/services names).
// defPort fills a missing port.
func parseHostPort(s string, defPort int) (hostPort, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		if defPort == 0 {
			return hostPort{}, fmt.Errorf("%q has no port", s)
		}
		return hostPort{addr: a.Unmap(), port: defPort}, nil
	}
	h, p, err := splitHostPort(s)
	if err != nil {
		return hostPort{}, err
	}
	hp := hostPort{port: defPort}
	if p != "" {
		n, ok := portNumber(p)
		if !ok {
			return hostPort{}, fmt.Errorf("%q is not a port", p)
		}
		hp.port = n
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		hp.addr = a.Unmap()
	} else if validHost(h) {
		hp.host = strings.ToLower(h)
	} else {
		return hostPort{}, fmt.Errorf("%q is neither an IP address nor a host name", h)
	}
	if hp.port == 0 {
		return hostPort{}, fmt.Errorf("%q has no port", s)
	}
	return hp, nil
}

func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("%q: missing ]", s)
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if rest[0] != ':' {
			return "", "", fmt.Errorf("%q: want [ADDR]:PORT", s)
		}
		return host, rest[1:], nil
	}
	if strings.Count(s, ":") > 1 {
		return "", "", fmt.Errorf("%q: write an IPv6 address with a port as [ADDR]:PORT", s)
	}
	host, port, _ = strings.Cut(s, ":")
	return host, port, nil
}

// validHost reports whether s is a DNS host name (RFC 1123 labels) with a
// letter in it, as internal/config takes them (a mistyped address such as
// "10.0.1" is not a name).
func validHost(s string) bool {
	if s == "" || len(s) > 253 || !strings.ContainsAny(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz") {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// wellKnownPorts are the /etc/services names ldirectord.cf and ipvsadm-save
// (without -n) write, so the import does not depend on the machine's
// /etc/services.
var wellKnownPorts = map[string]int{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "www": 80, "pop3": 110,
	"nntp": 119, "imap": 143, "imap2": 143, "snmp": 161, "ldap": 389, "https": 443, "submission": 587,
	"ldaps": 636, "imaps": 993, "pop3s": 995, "ms-sql-s": 1433, "oracle": 1521, "radius": 1812,
	"mysql": 3306, "sip": 5060, "sip-tls": 5061, "postgresql": 5432, "http-alt": 8080, "webcache": 8080,
}

func portNumber(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 1 && n <= 65535
	}
	n, ok := wellKnownPorts[strings.ToLower(s)]
	return n, ok
}

// expandRange reads ldirectord's real address, which may be a range
// A->B of IPv4 addresses (at most 256).
func expandRange(s string, port int) ([]hostPort, error) {
	from, to, isRange := strings.Cut(s, "->")
	if !isRange {
		hp, err := parseHostPort(s, port)
		if err != nil {
			return nil, err
		}
		return []hostPort{hp}, nil
	}
	last, err := parseHostPort(to, port)
	if err != nil {
		return nil, err
	}
	first, err := netip.ParseAddr(from)
	if err != nil || !first.Is4() || !last.addr.Is4() || last.addr.Less(first) {
		return nil, fmt.Errorf("range %q: want IPv4 FIRST->LAST[:PORT] with FIRST <= LAST", s)
	}
	var out []hostPort
	for a := first; ; a = a.Next() {
		if len(out) == 256 {
			return nil, fmt.Errorf("range %q: more than 256 addresses", s)
		}
		out = append(out, hostPort{addr: a, port: last.port})
		if a == last.addr {
			return out, nil
		}
	}
}

// ldNative are the ldirectord services hapair checks itself; the others get
// a connect check.
var ldNative = map[string]bool{"http": true, "sip": true, "none": true, "": true}

// ldCheck maps checktype, service, request, receive, httpmethod,
// virtualhost and the timing directives onto the service's check.
func (im *importer) ldCheck(s *service, v *ldVirtual, get func(string) (ldValue, bool), svcType, proto string) {
	ct := ldValue{at: v.at, val: "negotiate"} // ldirectord's default
	if x, ok := get("checktype"); ok {
		ct = ldValue{x.at, strings.ToLower(unquote(x.val))}
	}
	svcAt := ct.at // where a warning about the service type points
	if x, ok := v.opts["service"]; ok {
		svcAt = x.at
	}
	c := &s.check
	kind := ct.val
	if n, err := strconv.Atoi(kind); err == nil {
		if n < 1 {
			im.warnf(ct.at, "checktype=%s: want a positive N; negotiate used", ct.val)
			kind = "negotiate"
		} else {
			kind = "N"
		}
	}
	switch kind {
	case "negotiate", "N":
		switch {
		case svcType == "http":
			im.ldHTTP(s, v, get, ct, kind)
		case svcType == "sip" && proto == "udp":
			c.typ = "sip"
		case svcType == "sip":
			im.warnf(svcAt, "service=sip over tcp: hapair's SIP check is UDP only; connect used")
			c.typ = "connect"
		case svcType == "none" || svcType == "":
			c.typ = "connect"
		default:
			im.warnf(svcAt, "service=%s: hapair has no %s negotiate check; connect used", svcType, svcType)
			c.typ = "connect"
		}
	case "connect":
		c.typ = "connect"
		if proto == "udp" && svcType == "sip" {
			c.typ = "sip"
			im.warnf(ct.at, "checktype=connect on udp: a UDP connect probes nothing; hapair's SIP OPTIONS check used")
		}
	case "ping":
		im.warnf(ct.at, "checktype=ping: hapair has no ICMP check for reals; connect used")
		c.typ = "connect"
	case "off":
		im.ldOff(s, ct)
	case "external", "external-perl":
		cmd, ok := get("checkcommand")
		words, wok := shellWords(unquote(cmd.val))
		if !ok || !wok || len(words) == 0 {
			im.warnf(ct.at, "checktype=%s without checkcommand=; connect used", ct.val)
			c.typ = "connect"
			break
		}
		if !filepath.IsAbs(words[0]) {
			im.warnf(cmd.at, "checkcommand=%s: want the program's absolute path (had runs it with no shell and no PATH search); connect used", words[0])
			c.typ = "connect"
			break
		}
		c.typ, c.program, c.args = "external", words[0], words[1:]
		if kind == "external-perl" {
			im.warnf(cmd.at, "checktype=external-perl: %s is run as a program (VIP VPORT RIP RPORT arguments), not inside ldirectord's perl; check it is executable", words[0])
		}
	default:
		im.warnf(ct.at, "checktype=%s is not an ldirectord check type; connect used", ct.val)
		c.typ = "connect"
	}
	if proto == "udp" && c.typ != "sip" && c.typ != "external" && c.typ != "off" {
		im.warnf(svcAt, "service=%s over udp: hapair checks udp reals with sip or external only; check type off used (every real counts as up): write an external check", firstNonEmpty(svcType, "none"))
		s.check = check{typ: "off"}
		s.notes = append(s.notes, "check type off: ldirectord's "+ct.val+" check of this udp service has no hapair counterpart; write an external check")
	}
	if c.typ != "negotiate" && !isDigits(c.typ) && c.typ != "http" {
		for _, k := range []string{"request", "receive", "httpmethod", "virtualhost"} {
			if x, ok := v.opts[k]; ok {
				im.warnf(x.at, "%s: not carried over: only HTTP checks send a request (this service's check is %s)", k, firstNonEmpty(c.typ, "off"))
			}
		}
	}
	im.ldTiming(s, get)
}

// ldOff handles checktype=off and UDP services hapair cannot probe.
func (im *importer) ldOff(s *service, ct ldValue) {
	im.noCheck(s, ct.at, "checktype="+ct.val)
}

func (im *importer) ldHTTP(s *service, v *ldVirtual, get func(string) (ldValue, bool), ct ldValue, kind string) {
	c := &s.check
	c.typ = "negotiate"
	if kind == "N" {
		c.typ = ct.val
	}
	if r, ok := get("request"); ok {
		c.request = unquote(r.val)
		if c.request == "" {
			c.request = "/"
		}
		// ldirectord puts the request after "http://HOST:PORT/".
		c.request = pcheck.NormalizeRequest(c.request)
	}
	if h, ok := get("virtualhost"); ok {
		c.host = unquote(h.val)
	}
	if m, ok := get("httpmethod"); ok && !strings.EqualFold(unquote(m.val), "GET") {
		im.warnf(m.at, "httpmethod=%s: not carried over; hapair's HTTP checks send GET", m.val)
	}
	r, ok := get("receive")
	if !ok || unquote(r.val) == "" {
		// ldirectord's negotiate without receive passes on any 2xx; the
		// closest hapair check wants status 200.
		c.typ = "http"
		if kind == "N" {
			im.warnf(ct.at, "checktype=%s without receive=: hapair's N check needs a receive regexp; an HTTP status 200 check every interval used", ct.val)
		}
		return
	}
	c.receive = unquote(r.val)
	if _, err := regexp.Compile(c.receive); err != nil {
		im.warnf(r.at, "receive=%s is not an RE2 regexp (%v); an HTTP status 200 check used instead", r.val, err)
		c.typ, c.receive = "http", ""
	}
}

// ldTiming sets interval, timeout, rise and fall as ldirectord had them: it
// re-adds a real at the first good check and drops it after failurecount
// failed checks of checkcount attempts each.
func (im *importer) ldTiming(s *service, get func(string) (ldValue, bool)) {
	c := &s.check
	if c.typ == "" || c.typ == "off" {
		return
	}
	secs := func(k string) (time.Duration, ldValue, bool) {
		x, ok := get(k)
		if !ok {
			return 0, x, false
		}
		n, err := strconv.Atoi(unquote(x.val))
		if err != nil || n < 1 || n > 86400 {
			im.warnf(x.at, "%s=%s is not a number of seconds 1..86400; ignored", k, x.val)
			return 0, x, false
		}
		return time.Duration(n) * time.Second, x, true
	}
	c.interval = ldCheckInterval
	if d, _, ok := secs("checkinterval"); ok {
		c.interval = d
	}
	timeout, tAt, explicit := secs("checktimeout")
	if !explicit {
		timeout = ldCheckTimeout
	}
	which := "connecttimeout"
	if c.typ == "negotiate" || c.typ == "http" || isDigits(c.typ) {
		which = "negotiatetimeout"
		if !explicit {
			timeout = ldNegotiateTime
		}
	}
	if d, x, ok := secs(which); ok {
		timeout, tAt, explicit = d, x, true
	}
	if timeout > c.interval {
		if explicit {
			im.warnf(tAt.at, "%s %s is longer than checkinterval %s; hapair's probes may not overlap: timeout %s used", which, timeout, c.interval, c.interval)
		}
		timeout = c.interval
	}
	c.timeout = timeout
	count, failures := 1, 1
	for _, k := range []string{"checkcount", "failurecount"} {
		x, ok := get(k)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(unquote(x.val))
		if err != nil || n < 1 || n > 100 {
			im.warnf(x.at, "%s=%s is not a count 1..100; 1 used", k, x.val)
			continue
		}
		if k == "checkcount" {
			count = n
		} else {
			failures = n
		}
	}
	c.rise, c.fall = 1, min(count*failures, 100)
}

func isDigits(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}
