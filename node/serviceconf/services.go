package serviceconf

import (
	"math"
	"net/netip"
	"strings"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/fwd"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/check"
)

// Rules is the [[service]] section's reader, config.ServiceRules: the
// zero value is ready to use.
type Rules struct{}

var _ config.ServiceRules = Rules{}

// Overlap is proxy.Overlap: whether listeners on a and b cannot both be
// bound.
func (Rules) Overlap(a, b netip.AddrPort) bool { return proxy.Overlap(a, b) }

// Services reads every [[service]] as written, takes the defaults from
// proxy.ServiceConfig.WithDefaults and the rules from proxy.Config.Validate
// (which also compares services with each other), then what the kernel
// methods cannot do, the keys a service's settings make moot and the
// habits worth a warning.
func (Rules) Services(k *config.Keys, rs []config.RawService) []config.Service {
	c := &reader{k: k, hosts: map[string]string{}}
	var svcs []config.Service
	var pc proxy.Config
	for i := range rs {
		path := field.Index("service", i)
		sc := c.service(path, &rs[i])
		pc.Services = append(pc.Services, sc)
		s := fromProxy(sc.WithDefaults())
		s.FallbackHost = c.hosts[path+".fallback"]
		for j := range s.Reals {
			s.Reals[j].Host = c.hosts[field.Index(path+".reals", j)+".address"]
		}
		for j := range s.Backups {
			s.Backups[j].Host = c.hosts[field.Index(path+".backups", j)+".address"]
		}
		s.Method = fwd.Method(k.OneOf(path+".method", rs[i].Method, string(fwd.Default), fwd.Names()...))
		c.kernelService(path, &rs[i], &s)
		svcs = append(svcs, s)
		if len(sc.Reals) == 0 && !sc.Fallback.IsValid() && k.Has(path+".listen") {
			k.Errorf(path+".reals", "want at least one real (or a fallback): there is nothing to forward to")
		}
	}
	k.Domain(pc.Validate(), func(p string) string {
		if rest, ok := strings.CutPrefix(p, "services"); ok {
			return "service" + rest
		}
		return p
	})
	// After the balancer's rules, so that a protocol or mode they found
	// wrong is known: the keys it would use are then unknown too.
	for i := range svcs {
		c.mootKeys(field.Index("service", i), &svcs[i])
	}
	habits(k, svcs)
	return svcs
}

// reader reads the services of one file.
type reader struct {
	k     *config.Keys
	hosts map[string]string // key path of an address -> the host name written there
}

// service reads one [[service]]: unset keys stay zero for proxy's defaults.
func (c *reader) service(path string, r *config.RawService) proxy.ServiceConfig {
	s := proxy.ServiceConfig{
		Name:           c.k.Name(path+".name", r.Name, maxServiceName),
		Protocol:       c.k.Str(path+".protocol", r.Protocol, ""),
		Mode:           c.k.Str(path+".mode", r.Mode, ""),
		Scheduler:      c.k.Str(path+".scheduler", r.Scheduler, ""),
		Persistent:     c.k.Duration(path+".persistent", r.Persistent, 0, true),
		Quiescent:      r.Quiescent,
		ConnectTimeout: c.k.Duration(path+".connect_timeout", r.ConnectTimeout, 0, false),
		IdleTimeout:    c.k.Duration(path+".idle_timeout", r.IdleTimeout, 0, false),
		RequestTimeout: c.k.Duration(path+".request_timeout", r.RequestTimeout, 0, false),
		BodyTimeout:    c.k.Duration(path+".body_timeout", r.BodyTimeout, 0, false),
		MaxConn:        int(c.k.Integer(path+".maxconn", r.MaxConn, 0, 1, 1<<24)),
		MaxFlows:       int(c.k.Integer(path+".max_flows", r.MaxFlows, 0, 1, 1<<24)),
	}
	if c.k.Required(path + ".listen") {
		s.Listen = c.k.AddrPort(path+".listen", r.Listen, 0)
	}
	if c.k.Has(path + ".fallback") {
		s.Fallback, c.hosts[path+".fallback"] = c.k.HostPort(path+".fallback", r.Fallback, s.Listen.Port())
	}
	s.Check = c.check(path+".check", &r.Check, s.WithDefaults().Protocol)
	s.Reals = c.reals(path+".reals", r.Reals, s.Listen.Port())
	s.Backups = c.reals(path+".backups", r.Backups, s.Listen.Port())
	for j := range r.Monitors {
		mpath := field.Index(path+".monitors", j)
		m := check.Monitor{
			Args:     r.Monitors[j].Args,
			Interval: c.k.Duration(mpath+".interval", r.Monitors[j].Interval, 0, false),
			Timeout:  c.k.Duration(mpath+".timeout", r.Monitors[j].Timeout, 0, false),
		}
		if c.k.Wrong(mpath + ".interval") {
			m.Timeout = 0 // as a check's: the interval's own error is the one
		}
		if c.k.Required(mpath + ".script") {
			m.Program = r.Monitors[j].Script
		}
		s.Monitors = append(s.Monitors, m)
	}
	return s
}

func (c *reader) reals(path string, rs []config.RawReal, port uint16) []proxy.RealConfig {
	var reals []proxy.RealConfig
	for i := range rs {
		rpath := field.Index(path, i)
		r := proxy.RealConfig{Weight: int(c.k.Integer(rpath+".weight", rs[i].Weight, proxy.DefaultRealWeight, math.MinInt32, math.MaxInt32))}
		if c.k.Required(rpath + ".address") {
			r.Address, c.hosts[rpath+".address"] = c.k.HostPort(rpath+".address", rs[i].Address, port)
		}
		r.Request = c.k.Str(rpath+".request", rs[i].Request, "")
		if c.k.Has(rpath + ".receive") {
			r.Receive = c.k.Regexp(rpath+".receive", rs[i].Receive)
		}
		reals = append(reals, r)
	}
	return reals
}
