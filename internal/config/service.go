package config

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Check types; a positive integer string is also a type (see Check.Type).
var checkTypes = []string{"connect", "negotiate", "http", "sip", "external"}

func (c *conv) services(rs []rawService) []Service {
	var svcs []Service
	names := map[string]string{}
	listens := map[string]string{} // "tcp 198.18.0.100:80" -> path of first use
	for i := range rs {
		path := idx("service", i)
		s := c.service(path, &rs[i])
		c.unique(names, path+".name", s.Name, "service")
		if s.Listen.IsValid() {
			key := s.Protocol + " " + s.Listen.String()
			if first, dup := listens[key]; dup {
				c.errorf(path+".listen", "%s %s is already the listen address at %s", s.Protocol, s.Listen, c.ix.at(first))
			} else {
				listens[key] = path + ".listen"
			}
		}
		svcs = append(svcs, s)
	}
	return svcs
}

func (c *conv) service(path string, r *rawService) Service {
	s := Service{
		Name:           c.name(path+".name", r.Name, 64),
		Protocol:       c.oneOf(path+".protocol", r.Protocol, "tcp", "tcp", "udp"),
		Mode:           c.oneOf(path+".mode", r.Mode, "l4", "l4", "http"),
		Scheduler:      c.oneOf(path+".scheduler", r.Scheduler, "wrr", "rr", "wrr", "lc", "wlc", "sh"),
		Persistent:     c.duration(path+".persistent", r.Persistent, 0, true),
		Quiescent:      r.Quiescent,
		ConnectTimeout: c.duration(path+".connect_timeout", r.ConnectTimeout, 3*time.Second, false),
	}
	idle := 10 * time.Minute
	if s.Protocol == "udp" {
		idle = time.Minute
	}
	s.IdleTimeout = c.duration(path+".idle_timeout", r.IdleTimeout, idle, false)
	s.RequestTimeout = c.duration(path+".request_timeout", r.RequestTimeout, 0, false)
	s.BodyTimeout = c.duration(path+".body_timeout", r.BodyTimeout, 0, false)
	s.MaxConn = int(c.integer(path+".maxconn", r.MaxConn, 0, 1, 1<<24))
	s.MaxFlows = int(c.integer(path+".max_flows", r.MaxFlows, 0, 1, 1<<24))
	for _, k := range []string{"request_timeout", "body_timeout"} {
		if c.ix.has(path+"."+k) && s.Mode != "http" {
			c.errorf(path+"."+k, `only for mode "http"`)
		}
	}
	if c.ix.has(path+".maxconn") && s.Protocol != "tcp" {
		c.errorf(path+".maxconn", `only for protocol "tcp"; udp services are bounded by max_flows`)
	}
	if c.ix.has(path+".max_flows") && s.Protocol != "udp" {
		c.errorf(path+".max_flows", `only for protocol "udp"`)
	}
	if s.Protocol == "udp" && s.Mode == "http" {
		c.errorf(path+".mode", `http mode needs protocol "tcp"; udp services are l4`)
	}
	if c.required(path + ".listen") {
		s.Listen = c.addrPort(path+".listen", r.Listen, 0)
	}
	if c.ix.has(path + ".fallback") {
		s.Fallback = c.addrPort(path+".fallback", r.Fallback, s.Listen.Port())
	}
	s.Method = c.oneOf(path+".method", r.Method, "proxy", "proxy", "nat", "dr")
	s.Check = c.check(path+".check", &r.Check, s.Protocol)
	s.Reals = c.reals(path+".reals", r.Reals, s.Listen.Port())
	s.Backups = c.reals(path+".backups", r.Backups, s.Listen.Port())
	c.kernelService(path, r, &s)
	if len(s.Reals) == 0 && !s.Fallback.IsValid() && c.ix.has(path+".listen") {
		c.errorf(path+".reals", "want at least one real (or a fallback)")
	}
	for j := range r.Monitors {
		s.Monitors = append(s.Monitors, c.monitor(idx(path+".monitors", j), &r.Monitors[j]))
	}
	return s
}

// kernelService checks what the kernel methods (nat, dr) cannot do, with
// the reason, and what dr needs.
func (c *conv) kernelService(path string, r *rawService, s *Service) {
	if s.Method == "proxy" {
		if c.ix.has(path + ".interface") {
			c.errorf(path+".interface", "only dr services take an interface")
		}
		return
	}
	if s.Mode == "http" {
		c.errorf(path+".mode", "method %q forwards packets in the kernel; http mode needs method \"proxy\"", s.Method)
	}
	if s.Scheduler == "lc" || s.Scheduler == "wlc" {
		c.errorf(path+".scheduler", "%q with method %q: the kernel rule path cannot count a real's connections (that takes a conntrack walk per new connection); use rr, wrr or sh, or method \"proxy\"", s.Scheduler, s.Method)
	}
	if len(r.Backups) > 0 || len(r.Monitors) > 0 {
		c.errorf(path+".method", "backups and monitors need method \"proxy\"")
	}
	if s.Listen.IsValid() && !s.Listen.Addr().Is4() {
		c.errorf(path+".listen", "method %q is IPv4 only", s.Method)
	}
	if s.Fallback.IsValid() && s.Fallback.Addr().IsLoopback() {
		c.errorf(path+".fallback", "%s: a loopback fallback cannot take forwarded packets with method %q; give a server on the reals' network", s.Fallback, s.Method)
	}
	if s.Method == "dr" {
		// What each real must have is in the error text and Config docs:
		// the VIP on a loopback, arp_ignore=1 and arp_announce=2, the same
		// port, and the same L2 segment as the balancer.
		if c.required(path + ".interface") {
			s.Interface = c.str(path+".interface", r.Interface, "")
		}
		for i, rr := range s.Reals {
			if rr.Address.Port() != s.Listen.Port() {
				c.errorf(idx(path+".reals", i), "%s: dr forwards frames unchanged, so each real serves the virtual port %d itself, holds the VIP on a loopback with arp_ignore=1 and arp_announce=2, and sits on the balancer's segment", rr.Address, s.Listen.Port())
			}
		}
	} else if c.ix.has(path + ".interface") {
		c.errorf(path+".interface", "only dr services take an interface")
	}
}

func (c *conv) check(path string, r *rawCheck, protocol string) Check {
	ck := Check{
		Request:  c.str(path+".request", r.Request, "/"),
		Host:     c.str(path+".host", r.Host, ""),
		Status:   int(c.integer(path+".status", r.Status, 200, 100, 599)),
		Program:  r.Program,
		Args:     r.Args,
		Interval: c.duration(path+".interval", r.Interval, 2*time.Second, false),
		Rise:     int(c.integer(path+".rise", r.Rise, 2, 1, 100)),
		Fall:     int(c.integer(path+".fall", r.Fall, 3, 1, 100)),
	}
	ck.Timeout = c.duration(path+".timeout", r.Timeout, min(time.Second, ck.Interval), false)
	c.timeoutWithin(path, ck.Timeout, ck.Interval)
	if !strings.HasPrefix(ck.Request, "/") {
		c.errorf(path+".request", "%q: want an HTTP path starting with /", ck.Request)
	}

	tpath := path + ".type"
	switch {
	case c.ix.has(tpath):
		ck.Type = r.Type
		if n, err := strconv.Atoi(r.Type); err == nil {
			if n < 1 {
				c.errorf(tpath, "%q: N must be a positive integer (connect every interval, negotiate every Nth)", r.Type)
			}
		} else if !slices.Contains(checkTypes, r.Type) {
			c.errorf(tpath, "%q is not one of %s, or a positive integer N", r.Type, strings.Join(checkTypes, ", "))
		}
	case protocol == "udp":
		c.errorf(tpath, "required for udp services: sip or external (a UDP connect probes nothing)")
	default:
		ck.Type = "connect"
	}
	if protocol == "udp" && ck.Type != "" && ck.Type != "sip" && ck.Type != "external" {
		c.errorf(tpath, "%q cannot probe a udp service; use sip or external", ck.Type)
	}

	_, isN := strconv.Atoi(ck.Type)
	if ck.Type == "negotiate" || isN == nil {
		if !c.ix.has(path + ".receive") {
			c.errorf(path+".receive", "required for check type %q: a regexp the response must match", ck.Type)
		}
	}
	if c.ix.has(path + ".receive") {
		re, err := regexp.Compile(r.Receive)
		if err != nil {
			c.errorf(path+".receive", "compiling regular expression %q: %v", r.Receive, err)
		}
		ck.Receive = re
	}
	if ck.Type == "external" && !c.ix.has(path+".program") {
		c.errorf(path+".program", `required for check type "external"`)
	}
	return ck
}

func (c *conv) reals(path string, rs []rawReal, port uint16) []Real {
	var reals []Real
	seen := map[netip.AddrPort]string{}
	for i := range rs {
		rpath := idx(path, i)
		r := Real{Weight: int(c.integer(rpath+".weight", rs[i].Weight, 1, 0, 65535))}
		if c.required(rpath + ".address") {
			r.Address = c.addrPort(rpath+".address", rs[i].Address, port)
		}
		if r.Address.IsValid() {
			if first, dup := seen[r.Address]; dup {
				c.errorf(rpath+".address", "%s is listed again (first at %s)", r.Address, c.ix.at(first))
			} else {
				seen[r.Address] = rpath + ".address"
			}
		}
		reals = append(reals, r)
	}
	return reals
}

func (c *conv) monitor(path string, r *rawMonitor) Monitor {
	m := Monitor{
		Args:     r.Args,
		Interval: c.duration(path+".interval", r.Interval, 5*time.Second, false),
	}
	m.Timeout = c.duration(path+".timeout", r.Timeout, min(2*time.Second, m.Interval), false)
	if c.required(path + ".script") {
		m.Script = c.str(path+".script", r.Script, "")
	}
	c.timeoutWithin(path, m.Timeout, m.Interval)
	return m
}
