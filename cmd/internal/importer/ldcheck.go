package importer

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	pcheck "github.com/hapair/hapair/proxy/check"
)

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
	case "on":
		im.noCheck(s, ct.at, "checktype=on")
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
	if x, ok := v.opts["checkport"]; ok {
		im.ldCheckPort(s, x)
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

// ldCheckPort maps checkport=, the port ldirectord's checks connect to on
// each real instead of the real's own, onto check.port (HAProxy's check
// port). A check that does not connect cannot carry it: its service then
// is not converted, since checking the wrong port fails every real.
func (im *importer) ldCheckPort(s *service, x ldValue) {
	c := &s.check
	n, err := strconv.Atoi(unquote(x.val))
	switch t, _ := pcheck.Lookup(c.typ); {
	case c.typ == "off" || c.typ == "":
		// No check runs: there is no port to probe.
		im.warnf(x.at, "checkport=%s: not carried over: this service runs no check", x.val)
	case err != nil || n < 1 || n > 65535:
		im.refusef(x.at, "checkport=%s: not a port (1..65535): the check would probe each real's own port instead", x.val)
	case !t.Uses("port"):
		im.refusef(x.at, "checkport=%s: hapair's %s check is given each real's own port (RPORT); have %s probe port %d itself", x.val, c.typ, c.program, n)
	default:
		c.port = n
	}
}

// ldOff maps checktype=off: ldirectord(8) "no checking will take place and
// no real or fallback servers will be activated". hapair has no switched-off
// service, so the nearest is a service whose every real has weight 0 (no new
// connection, as IPVS's weight 0) and no fallback; check type off, so
// nothing turns a real back on until the weights are edited.
func (im *importer) ldOff(s *service, ct ldValue) {
	s.check = check{typ: "off"}
	for _, r := range s.reals {
		r.weight, r.wset = 0, true
	}
	dropped := ""
	if s.fallback != "" {
		dropped = " and fallback " + s.fallback + " not imported"
		s.fallback = ""
	}
	s.notes = append(s.notes, "checktype=off: ldirectord activated no real and no fallback; every real at weight 0: set the weights and a check to turn this service on")
	im.warnf(ct.at, "checktype=off: ldirectord activates no real and no fallback; hapair has no switched-off service, so every real is written with weight = 0%s: the service takes no new connection until its weights are set", dropped)
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
		c.request = ldRequest(c.request)
	}
	if h, ok := get("virtualhost"); ok {
		// check's rule for the Host header: LWP could not have sent one
		// it refuses either (it builds http://VIRTUALHOST:PORT/).
		if p := pcheck.HostProblem(unquote(h.val)); p != "" {
			im.warnf(h.at, "virtualhost=%s: not carried over: %s; the check sends the real's address", h.val, p)
		} else {
			c.host = unquote(h.val)
		}
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

// ldRequest is the path ldirectord's request=VALUE asks for: it puts the
// request after "http://HOST:PORT/" and LWP's URI module percent-encodes
// the bytes a URI cannot hold, so a space is sent as %20, and keeps a
// "#fragment" to itself; hapair's check sends its path as written and
// refuses spaces, controls and fragments.
func ldRequest(r string) string {
	r, _, _ = strings.Cut(r, "#")
	var b strings.Builder
	for _, c := range []byte(pcheck.NormalizeRequest(r)) {
		if c <= ' ' || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
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
				r.request = ldRequest(r.request)
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
