package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/connlimit"
	"github.com/hapair/hapair/proxy/sched"
)

// Config is the balancer's whole configuration: its services.
type Config struct {
	Services []ServiceConfig
	// MaxConn bounds client connections across every TCP service, like
	// HAProxy's global maxconn (default connlimit.DefaultMax(): the
	// descriptor limit less a reserve, divided by the up to 6 descriptors
	// a proxied connection holds).
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
	// connections (HTTP) idle this long (default: TCP none, UDP 60s, HTTP 60s).
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
	Weight  int // 0..65535; 0 takes no new connections (ipvsadm -w 0)
}

func (c *ServiceConfig) setDefaults() {
	if c.Protocol == "" {
		c.Protocol = "tcp"
	}
	if c.Mode == "" {
		c.Mode = "l4"
	}
	if c.Scheduler == "" {
		c.Scheduler = "wrr"
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.Check.Type != "" {
		c.Check = c.Check.WithDefaults()
		if !c.Check.Virtual.IsValid() {
			c.Check.Virtual = c.Listen
		}
	}
}

// validate checks one service after defaults; errors name the service.
func (c *ServiceConfig) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("proxy: service %q: %s", c.Name, fmt.Sprintf(format, args...))
	}
	if c.Name == "" {
		return errors.New("proxy: service with no name")
	}
	if !c.Listen.IsValid() || c.Listen.Port() == 0 {
		return bad("listen address %q needs an IP and a port", c.Listen)
	}
	switch c.Protocol {
	case "tcp", "udp":
	default:
		return bad("protocol %q, want tcp or udp", c.Protocol)
	}
	switch c.Mode {
	case "l4":
	case "http":
		if c.Protocol != "tcp" {
			return bad("mode http needs protocol tcp, not %q", c.Protocol)
		}
	default:
		return bad("mode %q, want l4 or http", c.Mode)
	}
	if _, err := sched.New(c.Scheduler, nil); err != nil {
		return bad("%v", err)
	}
	if c.MaxConn < 0 || c.MaxFlows < 0 {
		return bad("maxconn %d, max_flows %d: want 0 (the default) or more", c.MaxConn, c.MaxFlows)
	}
	seen := make(map[netip.AddrPort]bool)
	for _, pool := range [][]RealConfig{c.Reals, c.Backups} {
		for _, r := range pool {
			if !r.Address.IsValid() || r.Address.Port() == 0 {
				return bad("real %q needs an IP and a port", r.Address)
			}
			if r.Weight < 0 || r.Weight > sched.MaxWeight {
				return bad("real %s: weight %d out of range 0..%d", r.Address, r.Weight, sched.MaxWeight)
			}
			if seen[r.Address] {
				return bad("real %s listed twice", r.Address)
			}
			seen[r.Address] = true
		}
	}
	if c.Check.Type != "" {
		if err := c.Check.Validate(); err != nil {
			return bad("%v", err)
		}
	}
	for i, m := range c.Monitors {
		if m.Program == "" {
			return bad("monitor %d has no program", i+1)
		}
	}
	return nil
}

// prepare fills defaults and validates every service of cfg, returning a
// copy.
func prepare(cfg Config) (Config, error) {
	out := Config{Services: make([]ServiceConfig, len(cfg.Services)), MaxConn: cfg.MaxConn}
	if out.MaxConn < 0 {
		return Config{}, fmt.Errorf("proxy: maxconn %d: want 0 (the default) or more", out.MaxConn)
	}
	if out.MaxConn == 0 {
		out.MaxConn = connlimit.DefaultMax()
	}
	names := make(map[string]bool)
	listens := make(map[string]string)
	for i, s := range cfg.Services {
		s.setDefaults()
		if err := s.validate(); err != nil {
			return Config{}, err
		}
		if names[s.Name] {
			return Config{}, fmt.Errorf("proxy: service %q defined twice", s.Name)
		}
		names[s.Name] = true
		key := s.Protocol + " " + s.Listen.String()
		if other, ok := listens[key]; ok {
			return Config{}, fmt.Errorf("proxy: service %q: %s already used by service %q", s.Name, key, other)
		}
		listens[key] = s.Name
		out.Services[i] = s
	}
	return out, nil
}
