package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/connlimit"
	"github.com/hapair/hapair/proxy/l4"
	"github.com/hapair/hapair/proxy/l7"
	"github.com/hapair/hapair/proxy/persist"
	"github.com/hapair/hapair/proxy/sched"
)

// Config is the balancer's whole configuration: its services.
type Config struct {
	Services []ServiceConfig
	// MaxConn bounds client connections across every TCP service, like
	// HAProxy's global maxconn (default connlimit.DefaultMax(): the
	// descriptor limit less a reserve, divided by the 2 descriptors a
	// proxied connection holds).
	MaxConn int
}

// ServiceConfig is one virtual service (one ldirectord virtual= block).
type ServiceConfig struct {
	Name     string
	Listen   netip.AddrPort // the VIP and port; bound with IP_FREEBIND
	Protocol string         // "tcp" or "udp" (default tcp)
	Mode     string         // "l4" or "http" (default l4; http needs tcp)
	// Scheduler is one of sched.Names(): rr wrr lc wlc sh (default wrr).
	Scheduler string
	// Persistent is the client-IP affinity timeout, like ipvsadm -p
	// (default 0: none).
	Persistent time.Duration
	// Quiescent keeps failed reals at weight 0 instead of removing them.
	Quiescent bool
	// Fallback is the sorry server used when no real is usable (optional).
	Fallback netip.AddrPort
	// ConnectTimeout bounds connects to reals (default 5s).
	ConnectTimeout time.Duration
	// IdleTimeout closes connections (TCP), flows (UDP) or keep-alive
	// connections (HTTP) idle this long (default: TCP 15m, UDP 60s, HTTP
	// 60s; see DefaultTCPIdle).
	IdleTimeout time.Duration
	// MaxConn bounds this service's client connections (TCP and HTTP),
	// like HAProxy's per-frontend maxconn (default 0: only Config.MaxConn).
	MaxConn int
	// MaxFlows bounds a UDP service's flow table (default
	// l4.DefaultMaxFlows); when full, the longest-idle flows are evicted.
	MaxFlows int
	// RequestTimeout and BodyTimeout bound an HTTP request's head and body
	// (defaults l7.DefaultRequestTimeout, l7.DefaultBodyTimeout).
	RequestTimeout, BodyTimeout time.Duration
	// Check is the health check of every real (proxy/check); Type ""
	// means none: reals are always up. Virtual defaults to Listen.
	Check    check.Spec
	Reals    []RealConfig
	Backups  []RealConfig // Zeus "slaves": used while a monitor says FAIL
	Monitors []check.Monitor
}

// RealConfig is one real server.
type RealConfig struct {
	Address netip.AddrPort
	Weight  int // 0..65535; 0 takes no new connections (ipvsadm -w 0); the config's default is DefaultRealWeight
	// Request and Receive override the service check's for this real
	// (optional), as ldirectord's real=ADDR gate 1 "request", "receive":
	// only for check types that use them.
	Request string
	Receive *regexp.Regexp
}

// RealCheck is the check spec of real rc of service c: the service's, with
// rc's request and receive overrides.
func (c ServiceConfig) RealCheck(rc RealConfig) check.Spec {
	spec := c.Check
	if rc.Request != "" {
		spec.Request = check.NormalizeRequest(rc.Request)
	}
	if rc.Receive != nil {
		spec.Receive = rc.Receive
	}
	return spec
}

// overridesCheck reports whether rc has its own request or receive.
func (rc RealConfig) overridesCheck() bool { return rc.Request != "" || rc.Receive != nil }

// Service defaults. ConnectTimeout is l4's (HAProxy's usual "timeout
// connect 5s"). A TCP connection idle for 15 minutes is closed, IPVS's
// default TCP timeout (ipvsadm --set 900 ...) that ldirectord users have
// run with: without any, every client that vanished without a FIN (a
// crashed laptop, a NAT that forgot it) holds two sockets forever. UDP
// flows and HTTP keep-alive connections keep l4's and l7's own defaults.
const (
	DefaultProtocol   = "tcp"
	DefaultMode       = "l4"
	DefaultScheduler  = "wrr" // ldirectord's default scheduler
	DefaultTCPIdle    = 15 * time.Minute
	DefaultRealWeight = 1 // ldirectord's and ipvsadm's
)

// WithDefaults returns c with every unset field at its default: protocol
// tcp, mode l4, scheduler wrr, ConnectTimeout l4.DefaultConnectTimeout,
// IdleTimeout DefaultTCPIdle (tcp l4), l4.DefaultUDPIdle (udp) or
// l7.DefaultIdleTimeout (http); for http RequestTimeout and BodyTimeout
// l7's, for udp MaxFlows l4.DefaultMaxFlows; the check's own defaults (proxy/check) with
// Virtual set to Listen.
func (c ServiceConfig) WithDefaults() ServiceConfig {
	if c.Protocol == "" {
		c.Protocol = DefaultProtocol
	}
	if c.Mode == "" {
		c.Mode = DefaultMode
	}
	if c.Scheduler == "" {
		c.Scheduler = DefaultScheduler
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = l4.DefaultConnectTimeout
	}
	if c.IdleTimeout == 0 {
		switch {
		case c.Protocol == "udp":
			c.IdleTimeout = l4.DefaultUDPIdle
		case c.Mode == "http":
			c.IdleTimeout = l7.DefaultIdleTimeout
		default:
			c.IdleTimeout = DefaultTCPIdle
		}
	}
	switch {
	case c.Protocol == "udp" && c.MaxFlows == 0:
		c.MaxFlows = l4.DefaultMaxFlows
	case c.Mode == "http":
		if c.RequestTimeout == 0 {
			c.RequestTimeout = l7.DefaultRequestTimeout
		}
		if c.BodyTimeout == 0 {
			c.BodyTimeout = l7.DefaultBodyTimeout
		}
	}
	if c.Check.Type != "" {
		c.Check = c.Check.WithDefaults()
		if !c.Check.Virtual.IsValid() {
			c.Check.Virtual = c.Listen
		}
	}
	return c
}

// Validate reports every problem in one service (after defaults) as
// *field.Error values named by config keys ("listen", "check.receive",
// "reals[1].weight", "monitors[0].script").
func (c ServiceConfig) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, field.Errorf(path, format, args...)) }
	if c.Name == "" {
		bad("name", "required")
	}
	if !c.Listen.IsValid() || c.Listen.Port() == 0 {
		bad("listen", "%q needs an IP and a port", c.Listen)
	}
	switch c.Protocol {
	case "tcp", "udp":
	default:
		bad("protocol", "%q is not one of tcp, udp", c.Protocol)
	}
	switch c.Mode {
	case "l4":
	case "http":
		if c.Protocol != "tcp" {
			bad("mode", `http mode needs protocol "tcp"; %s services are l4`, c.Protocol)
		}
	case "tcp":
		bad("mode", "%q is not one of l4, http: HAProxy's mode tcp is mode l4 here", c.Mode)
	default:
		bad("mode", "%q is not one of l4, http", c.Mode)
	}
	if !slices.Contains(sched.Names(), c.Scheduler) {
		hint := ""
		if name, ok := sched.FromHAProxy(c.Scheduler); ok {
			hint = fmt.Sprintf(": HAProxy's balance %s is scheduler %q here", c.Scheduler, name)
		}
		bad("scheduler", "%q is not one of %s%s", c.Scheduler, strings.Join(sched.Names(), ", "), hint)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"persistent", c.Persistent}, {"connect_timeout", c.ConnectTimeout}, {"idle_timeout", c.IdleTimeout},
		{"request_timeout", c.RequestTimeout}, {"body_timeout", c.BodyTimeout}} {
		if d.v < 0 {
			bad(d.key, "%v: want a positive duration", d.v)
		}
	}
	if c.Persistent > persist.MaxTTL {
		// The sync to the peer carries at most MaxTTL: a longer timeout
		// would expire sooner on the node that takes over.
		bad("persistent", "%v is longer than %v, the most the persistence sync carries to the peer", c.Persistent, persist.MaxTTL)
	}
	if c.MaxConn < 0 {
		bad("maxconn", "%d: want 0 (the default) or more", c.MaxConn)
	}
	if c.MaxFlows < 0 {
		bad("max_flows", "%d: want 0 (the default) or more", c.MaxFlows)
	}
	c.validatePools(&errs, bad)
	switch t, err := check.Lookup(c.Check.Type); {
	case c.Check.Type == "": // no check: reals are always up
	case err == nil && c.Protocol == "udp" && !t.UDP:
		bad("check.type", "%q cannot probe a udp service; use %s", c.Check.Type, strings.Join(UDPChecks(), " or "))
	case err == nil && c.Protocol == "tcp" && t.UDPOnly:
		bad("check.type", "%q sends its probe over UDP and cannot probe a tcp service; use %s", c.Check.Type, strings.Join(tcpChecks(), ", "))
	default:
		errs = append(errs, field.In("check", c.Check.Validate()))
	}
	for i, m := range c.Monitors {
		path := field.Index("monitors", i)
		errs = append(errs, field.In(path, m.Validate()))
		// The same program with the same arguments gives the same verdict:
		// a second copy only doubles the runs (Zeus lists a monitor once).
		if j := slices.IndexFunc(c.Monitors[:i], m.Same); j >= 0 && m.Program != "" {
			errs = append(errs, field.Repeated(path+".script", field.Index("monitors", j)+".script", "%q with the same args is listed again", m.Program))
		}
	}
	return errors.Join(errs...)
}

// validatePools checks the reals, backups and fallback: ranges, repeats,
// and a real that is the service itself, which would make every health
// check and client connection open another one to the service until the
// file descriptors run out.
func (c *ServiceConfig) validatePools(errs *[]error, bad func(path, format string, args ...any)) {
	seen := make(map[netip.AddrPort]string)
	for _, pool := range []struct {
		key   string
		reals []RealConfig
	}{{"reals", c.Reals}, {"backups", c.Backups}} {
		for i, r := range pool.reals {
			path := field.Index(pool.key, i)
			switch {
			case !r.Address.IsValid() || r.Address.Port() == 0:
				bad(path+".address", "%q needs an IP and a port", r.Address)
			case c.isSelf(r.Address):
				bad(path+".address", "%s is the service's own listen address %s: it would forward to itself", r.Address, c.Listen)
			case seen[r.Address] != "":
				*errs = append(*errs, field.Repeated(path+".address", seen[r.Address]+".address", "%s is listed again", r.Address))
			default:
				seen[r.Address] = path
			}
			if err := sched.CheckWeight(r.Weight); err != nil {
				bad(path+".weight", "%v", err)
			}
			c.validateRealCheck(path, r, bad)
		}
	}
	switch {
	case !c.Fallback.IsValid():
	case c.isSelf(c.Fallback):
		bad("fallback", "%s is the service's own listen address %s: it would forward to itself", c.Fallback, c.Listen)
	case seen[c.Fallback] != "":
		// The kernel methods refuse it outright (one id per server); for
		// every method it is a server in two roles that cannot both hold.
		*errs = append(*errs, field.Repeated("fallback", seen[c.Fallback]+".address",
			"%s is already listed as a real or backup: the fallback serves only when every one of them is down, so it would be down too", c.Fallback))
	}
}

// validateRealCheck checks a real's request and receive overrides: the
// service's check type must use them.
func (c *ServiceConfig) validateRealCheck(path string, r RealConfig, bad func(path, format string, args ...any)) {
	for _, o := range []struct {
		key string
		set bool
	}{{"request", r.Request != ""}, {"receive", r.Receive != nil}} {
		if !o.set {
			continue
		}
		t, err := check.Lookup(c.Check.Type)
		switch {
		case c.Check.Type == "":
			bad(path+"."+o.key, "the service has no check (type off), so no %s is sent", o.key)
		case err == nil && !t.Uses(o.key):
			bad(path+"."+o.key, "key %q is not used by the service's check type %q", o.key, c.Check.Type)
		case o.key == "request":
			// check.New refuses it at runtime, leaving the real unchecked.
			if p := check.RequestProblem(check.NormalizeRequest(r.Request)); p != "" {
				bad(path+".request", "%s", p)
			}
		}
	}
}

func (c *ServiceConfig) isSelf(a netip.AddrPort) bool { return ForwardsToItself(c.Listen, a) }

// ForwardsToItself reports whether a real at a is where a service on
// listen itself listens: the listen address, or, for a wildcard listen, a
// loopback or wildcard address on the same port. Every connection to such
// a real opens another one to the service, until descriptors run out.
func ForwardsToItself(listen, a netip.AddrPort) bool {
	if a == listen {
		return true
	}
	l := listen.Addr()
	return a.Port() == listen.Port() && l.IsUnspecified() && (a.Addr().IsLoopback() || a.Addr().IsUnspecified())
}

// tcpChecks returns the check types that can probe a tcp service, "a
// number N" standing for N, in a list for a message.
func tcpChecks() []string {
	var names []string
	for _, n := range check.Types() {
		switch t, err := check.Lookup(n); {
		case n == "N":
			names = append(names, "a number N")
		case err == nil && !t.UDPOnly:
			names = append(names, n)
		}
	}
	if len(names) > 1 {
		names[len(names)-2] += " or " + names[len(names)-1]
		names = names[:len(names)-1]
	}
	return names
}

// UDPChecks returns the check types that can probe a udp service.
func UDPChecks() []string {
	var names []string
	for _, n := range check.Types() {
		if t, err := check.Lookup(n); err == nil && t.UDP {
			names = append(names, n)
		}
	}
	return names
}

// Validate reports every problem in cfg: each service's (under
// "services[i]") and the ones between services: names used twice and
// listen addresses that collide (the same address, or a wildcard and an
// address on the same port and protocol, which the kernel refuses to bind
// both of).
func (cfg Config) Validate() error {
	var errs []error
	if cfg.MaxConn < 0 {
		errs = append(errs, field.Errorf("maxconn", "%d: want 0 (the default) or more", cfg.MaxConn))
	}
	names := make(map[string]int)
	for i, s := range cfg.Services {
		path := field.Index("services", i)
		errs = append(errs, field.In(path, s.Validate()))
		s = s.WithDefaults()
		if j, dup := names[s.Name]; dup && s.Name != "" {
			errs = append(errs, field.Repeated(path+".name", field.Index("services", j)+".name", "service name %q is used again", s.Name))
		} else {
			names[s.Name] = i
		}
		for j, o := range cfg.Services[:i] {
			o = o.WithDefaults()
			if o.Protocol == s.Protocol && Overlap(o.Listen, s.Listen) {
				errs = append(errs, field.Repeated(path+".listen", field.Index("services", j)+".listen", "%s %s collides with %s %s of service %q", s.Protocol, s.Listen, o.Protocol, o.Listen, o.Name))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Overlap reports whether two listen addresses cannot both be bound: the
// same port, and the same address or one of them a wildcard of the same
// family (or of either family for [::], which Go binds dual-stack).
func Overlap(a, b netip.AddrPort) bool {
	if a.Port() != b.Port() {
		return false
	}
	x, y := a.Addr(), b.Addr()
	switch {
	case x == y:
		return true
	case x.IsUnspecified() && (x.Is6() || y.Is4()):
		return true
	case y.IsUnspecified() && (y.Is6() || x.Is4()):
		return true
	}
	return false
}

// prepare fills defaults and validates every service of cfg, returning a
// copy.
func prepare(cfg Config) (Config, error) {
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("proxy: %w", err)
	}
	out := Config{Services: make([]ServiceConfig, len(cfg.Services)), MaxConn: cfg.MaxConn}
	if out.MaxConn == 0 {
		out.MaxConn = connlimit.DefaultMax()
	}
	for i, s := range cfg.Services {
		out.Services[i] = s.WithDefaults()
	}
	return out, nil
}
