package serviceconf

import (
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/check"
)

// Spec is s as the balancer takes it (the inverse of what Services
// returns); the check's Virtual is the listen address.
func Spec(s config.Service) proxy.ServiceConfig {
	ck := s.Check
	sc := proxy.ServiceConfig{
		Name: s.Name, Listen: s.Listen, Protocol: s.Protocol, Mode: s.Mode, Scheduler: s.Scheduler,
		Persistent: s.Persistent, Quiescent: s.Quiescent, Fallback: s.Fallback,
		ConnectTimeout: s.ConnectTimeout, IdleTimeout: s.IdleTimeout,
		RequestTimeout: s.RequestTimeout, BodyTimeout: s.BodyTimeout, MaxConn: s.MaxConn, MaxFlows: s.MaxFlows,
		Check: check.Spec{
			Type: ck.Type, Request: ck.Request, Host: ck.Host, Receive: ck.Receive, Status: ck.Status, Port: ck.Port,
			Program: ck.Program, Args: ck.Args, Virtual: s.Listen,
			Interval: ck.Interval, Timeout: ck.Timeout, Rise: ck.Rise, Fall: ck.Fall,
		},
		Reals:   realConfigs(s.Reals),
		Backups: realConfigs(s.Backups),
	}
	for _, m := range s.Monitors {
		sc.Monitors = append(sc.Monitors, check.Monitor{Program: m.Script, Args: m.Args, Interval: m.Interval, Timeout: m.Timeout})
	}
	return sc
}

func realConfigs(rs []config.Real) []proxy.RealConfig {
	var out []proxy.RealConfig
	for _, r := range rs {
		out = append(out, proxy.RealConfig{Address: r.Address, Weight: r.Weight, Request: r.Request, Receive: r.Receive})
	}
	return out
}

// fromProxy is the effective service, defaults filled (sc's, which
// WithDefaults has filled, and each monitor's).
func fromProxy(sc proxy.ServiceConfig) config.Service {
	ck := sc.Check
	s := config.Service{
		Name: sc.Name, Listen: sc.Listen, Protocol: sc.Protocol, Mode: sc.Mode, Scheduler: sc.Scheduler,
		Persistent: sc.Persistent, Quiescent: sc.Quiescent, Fallback: sc.Fallback,
		ConnectTimeout: sc.ConnectTimeout, IdleTimeout: sc.IdleTimeout,
		RequestTimeout: sc.RequestTimeout, BodyTimeout: sc.BodyTimeout, MaxConn: sc.MaxConn, MaxFlows: sc.MaxFlows,
		Check: config.Check{
			Type: ck.Type, Request: ck.Request, Host: ck.Host, Receive: ck.Receive, Status: ck.Status, Port: ck.Port,
			Program: ck.Program, Args: ck.Args, Interval: ck.Interval, Timeout: ck.Timeout, Rise: ck.Rise, Fall: ck.Fall,
		},
		Reals:   reals(sc.Reals),
		Backups: reals(sc.Backups),
	}
	for _, m := range sc.Monitors {
		m = m.WithDefaults()
		s.Monitors = append(s.Monitors, config.Monitor{Script: m.Program, Args: m.Args, Interval: m.Interval, Timeout: m.Timeout})
	}
	return s
}

// reals are rs as config holds them, each request normalised as the
// check sends it.
func reals(rs []proxy.RealConfig) []config.Real {
	var out []config.Real
	for _, r := range rs {
		out = append(out, config.Real{Address: r.Address, Weight: r.Weight, Request: check.NormalizeRequest(r.Request), Receive: r.Receive})
	}
	return out
}
