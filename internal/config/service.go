package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/nft"
)

// services reads every [[service]] as written, takes the defaults from
// proxy.ServiceConfig.WithDefaults and the rules from proxy.Config.Validate
// (which also compares services with each other).
func (c *conv) services(rs []rawService) []Service {
	var svcs []Service
	var pc proxy.Config
	for i := range rs {
		path := idx("service", i)
		sc := c.service(path, &rs[i])
		pc.Services = append(pc.Services, sc)
		s := fromProxy(sc.WithDefaults())
		s.FallbackHost = c.hosts[path+".fallback"]
		for j := range s.Reals {
			s.Reals[j].Host = c.hosts[idx(path+".reals", j)+".address"]
		}
		for j := range s.Backups {
			s.Backups[j].Host = c.hosts[idx(path+".backups", j)+".address"]
		}
		s.Method = c.oneOf(path+".method", rs[i].Method, "proxy", "proxy", nft.MethodNAT, nft.MethodDR)
		c.mootServiceKeys(path, &s)
		c.kernelService(path, &rs[i], &s)
		svcs = append(svcs, s)
		if len(sc.Reals) == 0 && !sc.Fallback.IsValid() && c.ix.has(path+".listen") {
			c.errorf(path+".reals", "want at least one real (or a fallback): there is nothing to forward to")
		}
	}
	c.domain(pc.Validate(), func(p string) string {
		if rest, ok := strings.CutPrefix(p, "services"); ok {
			return "service" + rest
		}
		return p
	})
	return svcs
}

// service reads one [[service]]: unset keys stay zero for proxy's defaults.
func (c *conv) service(path string, r *rawService) proxy.ServiceConfig {
	s := proxy.ServiceConfig{
		Name:           c.name(path+".name", r.Name, maxServiceName),
		Protocol:       c.str(path+".protocol", r.Protocol, ""),
		Mode:           c.str(path+".mode", r.Mode, ""),
		Scheduler:      c.str(path+".scheduler", r.Scheduler, ""),
		Persistent:     c.duration(path+".persistent", r.Persistent, 0, true),
		Quiescent:      r.Quiescent,
		ConnectTimeout: c.duration(path+".connect_timeout", r.ConnectTimeout, 0, false),
		IdleTimeout:    c.duration(path+".idle_timeout", r.IdleTimeout, 0, false),
		RequestTimeout: c.duration(path+".request_timeout", r.RequestTimeout, 0, false),
		BodyTimeout:    c.duration(path+".body_timeout", r.BodyTimeout, 0, false),
		MaxConn:        int(c.integer(path+".maxconn", r.MaxConn, 0, 1, 1<<24)),
		MaxFlows:       int(c.integer(path+".max_flows", r.MaxFlows, 0, 1, 1<<24)),
	}
	if c.required(path + ".listen") {
		s.Listen = c.addrPort(path+".listen", r.Listen, 0)
	}
	if c.ix.has(path + ".fallback") {
		s.Fallback, c.hosts[path+".fallback"] = c.hostPort(path+".fallback", r.Fallback, s.Listen.Port())
	}
	s.Check = c.check(path+".check", &r.Check, s.WithDefaults().Protocol)
	s.Reals = c.reals(path+".reals", r.Reals, s.Listen.Port())
	s.Backups = c.reals(path+".backups", r.Backups, s.Listen.Port())
	for j := range r.Monitors {
		mpath := idx(path+".monitors", j)
		m := check.Monitor{
			Args:     r.Monitors[j].Args,
			Interval: c.duration(mpath+".interval", r.Monitors[j].Interval, 0, false),
			Timeout:  c.duration(mpath+".timeout", r.Monitors[j].Timeout, 0, false),
		}
		if c.required(mpath + ".script") {
			m.Program = r.Monitors[j].Script
		}
		s.Monitors = append(s.Monitors, m)
	}
	return s
}

// kernelService checks what the kernel methods (nat, dr) cannot do, with
// the reason, and what dr needs.
func (c *conv) kernelService(path string, r *rawService, s *Service) {
	if s.Method == "proxy" {
		return
	}
	if s.Mode == "http" {
		c.errorf(path+".mode", "method %q forwards packets in the kernel; http mode needs method \"proxy\"", s.Method)
	}
	if s.Scheduler == "lc" || s.Scheduler == "wlc" {
		c.errorf(path+".scheduler", "%q with method %q: the kernel rule path cannot count a real's connections (that takes a conntrack walk per new connection); use rr, wrr or sh, or method \"proxy\"", s.Scheduler, s.Method)
	}
	switch a := s.Listen.Addr(); {
	case !a.IsValid():
	case !a.Is4():
		c.errorf(path+".listen", "method %q is IPv4 only", s.Method)
	// The kernel rules match the destination address (proxy/nft's match):
	// a wildcard would match no packet, and no client's packet is
	// addressed to a loopback address.
	case a.IsUnspecified():
		c.errorf(path+".listen", "%s: method %q forwards the packets whose destination is the listen address, and no packet is addressed to %s; listen on a VIP of the group, or use method \"proxy\"", s.Listen, s.Method, a)
	case a.IsLoopback():
		c.errorf(path+".listen", "%s: method %q forwards the packets whose destination is the listen address, and no client's packet is addressed to a loopback address; listen on a VIP of the group, or use method \"proxy\"", s.Listen, s.Method)
	}
	if s.Fallback.IsValid() && s.Fallback.Addr().IsLoopback() {
		c.errorf(path+".fallback", "%s: a loopback fallback cannot take forwarded packets with method %q; give a server on the reals' network", s.Fallback, s.Method)
	}
	c.kernelLimits(path, s)
	if s.Method == "dr" {
		// What each real must have is in the error text and Config docs:
		// the VIP on a loopback, arp_ignore=1 and arp_announce=2, the same
		// port, and the same L2 segment as the balancer.
		if c.ix.has(path + ".interface") {
			s.Interface = c.ifname(path+".interface", r.Interface)
		} else {
			c.errorf(path+".interface", `required for method "dr": the interface the VIP's packets arrive on, where dr rewrites their MAC address at ingress`)
		}
		for i, rr := range s.Reals {
			if rr.Address.Port() != s.Listen.Port() {
				c.errorf(idx(path+".reals", i), "%s: dr forwards frames unchanged, so each real serves the virtual port %d itself, holds the VIP on a loopback with arp_ignore=1 and arp_announce=2, and sits on the balancer's segment", rr.Address, s.Listen.Port())
			}
		}
		if s.Fallback.IsValid() && s.Fallback.Port() != s.Listen.Port() {
			c.errorf(path+".fallback", "%s: dr forwards frames unchanged, so the fallback serves the virtual port %d itself, as a real does", s.Fallback, s.Listen.Port())
		}
	}
}

// maxServiceName bounds a service name in bytes.
const maxServiceName = 64

// ServiceNameError reports why name cannot be the name of a [[service]]
// forwarded with method ("proxy" or "", "nat", "dr"), nil when it can: the
// rule Load applies, the kernel methods' (proxy/nft.ValidName: nftables
// chains and maps carry the name, so no '.') on top of ValidName's.
func ServiceNameError(name, method string) error {
	if !validName(name, maxServiceName) {
		return fmt.Errorf("config: service name %q: want 1..%d characters of A-Z a-z 0-9 . _ -", name, maxServiceName)
	}
	if method == nft.MethodNAT || method == nft.MethodDR {
		return nft.ValidName(name)
	}
	return nil
}

// kernelLimits positions what proxy/nft's Validate refuses in a nat or
// dr service that the proxy method takes: the names nftables objects can
// carry, IPv6 and loopback reals, an IPv6 fallback, sub-second persistence
// and the slot table's size.
func (c *conv) kernelLimits(path string, s *Service) {
	if s.Name != "" && nft.ValidName(s.Name) != nil {
		c.errorf(path+".name", "%q: method %q names its nftables chains and maps after the service: want only A-Z a-z 0-9 _ -", s.Name, s.Method)
	}
	var weights []int
	for i, r := range s.Reals {
		switch a := r.Address.Addr(); {
		case a.IsValid() && !a.Is4():
			c.errorf(idx(path+".reals", i)+".address", "%s: method %q is IPv4 only: give the real's IPv4 address, or method \"proxy\"", r.Address, s.Method)
		case a.IsLoopback():
			c.errorf(idx(path+".reals", i)+".address", "%s: a loopback real cannot take forwarded packets with method %q; give a server on the reals' network", r.Address, s.Method)
		}
		weights = append(weights, r.Weight)
	}
	if a := s.Fallback.Addr(); a.IsValid() && !a.Is4() {
		c.errorf(path+".fallback", "%s: method %q is IPv4 only: give the fallback's IPv4 address, or method \"proxy\"", s.Fallback, s.Method)
	}
	if s.Persistent > 0 && s.Persistent < nft.MinPersistent {
		c.errorf(path+".persistent", "%v: method %q takes 0 (off) or at least %v, as ipvsadm -p counts whole seconds", s.Persistent, s.Method, nft.MinPersistent)
	}
	if n := nft.WRRSlotCount(weights); s.Scheduler != "rr" && n > nft.MaxSlots {
		c.errorf(path+".reals", "%s weights need %d slots in the kernel's slot map, more than %d: use smaller weights with a common divisor", s.Scheduler, n, nft.MaxSlots)
	}
}

// check reads a service's check table. A tcp service with no type gets
// check.DefaultType; a udp one must name a type that probes UDP. Type
// "off" (check.Off) is no check: the Spec's Type is "" and every real is
// up. Every key the type does not use is an error at that key.
func (c *conv) check(path string, r *rawCheck, protocol string) check.Spec {
	s := check.Spec{
		Type:     c.str(path+".type", r.Type, ""),
		Request:  c.str(path+".request", r.Request, ""),
		Host:     c.str(path+".host", r.Host, ""),
		Status:   int(c.integer(path+".status", r.Status, 0, 100, 599)),
		Program:  r.Program,
		Interval: c.duration(path+".interval", r.Interval, 0, false),
		Timeout:  c.duration(path+".timeout", r.Timeout, 0, false),
		Rise:     int(c.integer(path+".rise", r.Rise, 0, 1, check.MaxRiseFall)),
		Fall:     int(c.integer(path+".fall", r.Fall, 0, 1, check.MaxRiseFall)),
	}
	if c.ix.has(path + ".args") {
		s.Args = append([]string{}, r.Args...)
	}
	if c.ix.has(path + ".program") {
		s.Program = c.str(path+".program", r.Program, "")
	}
	if c.ix.has(path + ".receive") {
		re, err := regexp.Compile(r.Receive)
		if err != nil {
			c.errorf(path+".receive", "compiling regular expression %q: %v", r.Receive, err)
			re = regexp.MustCompile("")
		}
		s.Receive = re
	}
	if s.Type == check.Off {
		// No check: every real counts as up (ldirectord's checktype=off).
		// Any other key would configure a check that never runs.
		for _, k := range c.ix.childKeys(path) {
			if k != "type" {
				c.keyErrorf(path+"."+k, "key %q is not used by check type %q (no checks run)", k, check.Off)
			}
		}
		return check.Spec{}
	}
	if s.Type == "" {
		if protocol == "udp" {
			c.errorf(path+".type", "required for udp services: a UDP connect probes nothing (want %s)", strings.Join(proxy.UDPChecks(), " or "))
			return s
		}
		s.Type = check.DefaultType
	}
	if t, err := check.Lookup(s.Type); err == nil {
		for _, k := range c.ix.childKeys(path) {
			if !t.Uses(k) && slices.Contains(check.AllKeys(), k) {
				c.keyErrorf(path+"."+k, "%s", field.All(check.UnusedKey(s.Type, k))[0].Msg)
			}
		}
	}
	return s
}

func (c *conv) reals(path string, rs []rawReal, port uint16) []proxy.RealConfig {
	var reals []proxy.RealConfig
	for i := range rs {
		rpath := idx(path, i)
		r := proxy.RealConfig{Weight: int(c.integer(rpath+".weight", rs[i].Weight, proxy.DefaultRealWeight, math.MinInt32, math.MaxInt32))}
		if c.required(rpath + ".address") {
			r.Address, c.hosts[rpath+".address"] = c.hostPort(rpath+".address", rs[i].Address, port)
		}
		r.Request = c.str(rpath+".request", rs[i].Request, "")
		if c.ix.has(rpath + ".receive") {
			re, err := regexp.Compile(rs[i].Receive)
			if err != nil {
				c.errorf(rpath+".receive", "compiling regular expression %q: %v", rs[i].Receive, err)
				re = regexp.MustCompile("")
			}
			r.Receive = re
		}
		reals = append(reals, r)
	}
	return reals
}

// Spec is s as proxy takes it (the inverse of fromProxy); the check's
// Virtual is the listen address.
func (s Service) Spec() proxy.ServiceConfig {
	ck := s.Check
	sc := proxy.ServiceConfig{
		Name: s.Name, Listen: s.Listen, Protocol: s.Protocol, Mode: s.Mode, Scheduler: s.Scheduler,
		Persistent: s.Persistent, Quiescent: s.Quiescent, Fallback: s.Fallback,
		ConnectTimeout: s.ConnectTimeout, IdleTimeout: s.IdleTimeout,
		RequestTimeout: s.RequestTimeout, BodyTimeout: s.BodyTimeout, MaxConn: s.MaxConn, MaxFlows: s.MaxFlows,
		Check: check.Spec{
			Type: ck.Type, Request: ck.Request, Host: ck.Host, Receive: ck.Receive, Status: ck.Status,
			Program: ck.Program, Args: ck.Args, Virtual: s.Listen,
			Interval: ck.Interval, Timeout: ck.Timeout, Rise: ck.Rise, Fall: ck.Fall,
		},
	}
	for _, r := range s.Reals {
		sc.Reals = append(sc.Reals, proxy.RealConfig{Address: r.Address, Weight: r.Weight, Request: r.Request, Receive: r.Receive})
	}
	for _, r := range s.Backups {
		sc.Backups = append(sc.Backups, proxy.RealConfig{Address: r.Address, Weight: r.Weight, Request: r.Request, Receive: r.Receive})
	}
	for _, m := range s.Monitors {
		sc.Monitors = append(sc.Monitors, check.Monitor{Program: m.Script, Args: m.Args, Interval: m.Interval, Timeout: m.Timeout})
	}
	return sc
}

// fromProxy is the effective service, defaults filled.
func fromProxy(sc proxy.ServiceConfig) Service {
	ck := sc.Check
	s := Service{
		Name: sc.Name, Listen: sc.Listen, Protocol: sc.Protocol, Mode: sc.Mode, Scheduler: sc.Scheduler,
		Persistent: sc.Persistent, Quiescent: sc.Quiescent, Fallback: sc.Fallback,
		ConnectTimeout: sc.ConnectTimeout, IdleTimeout: sc.IdleTimeout,
		RequestTimeout: sc.RequestTimeout, BodyTimeout: sc.BodyTimeout, MaxConn: sc.MaxConn, MaxFlows: sc.MaxFlows,
		Check: Check{
			Type: ck.Type, Request: ck.Request, Host: ck.Host, Receive: ck.Receive, Status: ck.Status,
			Program: ck.Program, Args: ck.Args, Interval: ck.Interval, Timeout: ck.Timeout, Rise: ck.Rise, Fall: ck.Fall,
		},
	}
	for _, r := range sc.Reals {
		s.Reals = append(s.Reals, Real{Address: r.Address, Weight: r.Weight, Request: check.NormalizeRequest(r.Request), Receive: r.Receive})
	}
	for _, r := range sc.Backups {
		s.Backups = append(s.Backups, Real{Address: r.Address, Weight: r.Weight, Request: check.NormalizeRequest(r.Request), Receive: r.Receive})
	}
	for _, m := range sc.Monitors {
		m = m.WithDefaults()
		s.Monitors = append(s.Monitors, Monitor{Script: m.Program, Args: m.Args, Interval: m.Interval, Timeout: m.Timeout})
	}
	return s
}
