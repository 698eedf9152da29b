package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hapair/hapair/proxy/sched"
)

// Config is the balancer's whole configuration: its services.
type Config struct {
	Services []ServiceConfig
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
	Check       CheckConfig
	Reals       []RealConfig
	Backups     []RealConfig // Zeus "slaves": used while a monitor says FAIL
	Monitors    []MonitorConfig
}

// RealConfig is one real server.
type RealConfig struct {
	Address netip.AddrPort
	Weight  int // 0..65535; 0 takes no new connections (ipvsadm -w 0)
}

// Checker probes one real once; nil means healthy. Its error text is the
// reason shown in `hactl services`. proxy/check's checkers satisfy it.
type Checker interface {
	Check(ctx context.Context, target netip.AddrPort) error
}

// CheckConfig says how reals are health-checked.
type CheckConfig struct {
	// Checker runs one probe; nil means no checks (reals always up).
	Checker Checker
	// Desc describes the check for the table, e.g. "negotiate /status".
	Desc     string
	Interval time.Duration // default 1s
	Timeout  time.Duration // default Interval
	Rise     int           // successes to come up (default 1)
	Fall     int           // failures to go down (default 1)
}

// MonitorRunner runs a Zeus-style monitor once: a nil error means OK. The
// output is logged with every pool switch. proxy/check's monitor programs
// satisfy it.
type MonitorRunner interface {
	Run(ctx context.Context) (output string, err error)
}

// MonitorConfig is one pool monitor.
type MonitorConfig struct {
	Name     string // for logs and the table, e.g. the script path
	Runner   MonitorRunner
	Interval time.Duration // default 5s
	Timeout  time.Duration // default Interval
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
	ck := &c.Check
	if ck.Interval <= 0 {
		ck.Interval = time.Second
	}
	if ck.Timeout <= 0 {
		ck.Timeout = ck.Interval
	}
	ck.Rise = max(ck.Rise, 1)
	ck.Fall = max(ck.Fall, 1)
	if ck.Desc == "" {
		ck.Desc = "none"
		if ck.Checker != nil {
			ck.Desc = "custom"
		}
	}
	for i := range c.Monitors {
		m := &c.Monitors[i]
		if m.Interval <= 0 {
			m.Interval = 5 * time.Second
		}
		if m.Timeout <= 0 {
			m.Timeout = m.Interval
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
	for _, m := range c.Monitors {
		if m.Runner == nil {
			return bad("monitor %q has no runner", m.Name)
		}
	}
	return nil
}

// prepare fills defaults and validates every service of cfg, returning a
// copy.
func prepare(cfg Config) (Config, error) {
	out := Config{Services: make([]ServiceConfig, len(cfg.Services))}
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
