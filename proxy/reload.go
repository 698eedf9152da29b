package proxy

import (
	"errors"
)

// Reload applies cfg: services and reals are added, removed and
// re-weighted in place, and no established connection is closed. A service
// whose listen address changes is bound anew before the old listener
// closes; one whose mode or protocol changes on the same address closes the
// old listener first (a bind would collide), so connects arriving in that
// instant are refused. On a validation or bind error nothing changes.
func (b *Balancer) Reload(cfg Config) error {
	cfg, err := prepare(cfg)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("proxy: balancer closed")
	}
	b.maxConn.SetMax(cfg.MaxConn)
	// Phase 1: bind what needs binding, without touching running services.
	held := make(map[string]*service) // listen key -> running service
	for _, s := range b.services {
		held[listenKey(s.picker.pools.Load().cfg)] = s
	}
	type plan struct {
		cfg   ServiceConfig
		old   *service // to update in place, or to replace
		fresh *service // replacement, bound in phase 1 unless late
		late  bool     // bind after the old holder of the address closes
	}
	var plans []plan
	var bound []*service
	fail := func(err error) error {
		for _, s := range bound {
			s.closeListener()
			s.cancel()
		}
		return err
	}
	want := make(map[string]bool)
	for _, sc := range cfg.Services {
		want[sc.Name] = true
		old := b.services[sc.Name]
		if old != nil && sameDataPath(old.picker.pools.Load().cfg, &sc) {
			plans = append(plans, plan{cfg: sc, old: old})
			continue
		}
		p := plan{cfg: sc, old: old}
		if _, ok := held[listenKey(&sc)]; ok {
			// The address is held by a service that this reload removes or
			// moves (prepare rejected two services on one address), so it
			// can only be bound once that one has closed.
			p.late = true
		} else {
			s, err := b.newService(sc, old)
			if err != nil {
				return fail(err)
			}
			if err := s.bind(); err != nil {
				s.cancel()
				return fail(err)
			}
			bound = append(bound, s)
			p.fresh = s
		}
		plans = append(plans, p)
	}

	// Phase 2: apply. Close what goes away first, so late binds find their
	// address free.
	for name, s := range b.services {
		if !want[name] {
			b.log.Info("service removed", "service", name)
			s.stop()
			delete(b.services, name)
		}
	}
	for _, p := range plans {
		if p.old != nil && (p.fresh != nil || p.late) {
			p.old.stop()
			delete(b.services, p.cfg.Name)
		}
	}
	var errs []error
	for _, p := range plans {
		if p.fresh == nil && !p.late {
			b.updateService(p.old, p.cfg)
			continue
		}
		s := p.fresh
		if p.late {
			ns, err := b.newService(p.cfg, p.old)
			if err == nil {
				if err = ns.bind(); err != nil {
					ns.cancel()
				}
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s = ns
		}
		b.services[p.cfg.Name] = s
		s.serve()
		if b.wantActive[p.cfg.Name] {
			s.setActive(true)
		}
		if b.draining[p.cfg.Name] && s.web != nil {
			s.web.SetQuiesce(true) // a replacement keeps the drain
		}
		b.log.Info("service started", "service", p.cfg.Name, "listen", p.cfg.Listen.String(),
			"protocol", p.cfg.Protocol, "mode", p.cfg.Mode)
	}
	b.order = b.order[:0]
	for _, sc := range cfg.Services {
		b.order = append(b.order, sc.Name)
	}
	b.syncJobs()
	return errors.Join(errs...)
}

func listenKey(c *ServiceConfig) string { return c.Protocol + " " + c.Listen.String() }

// sameDataPath reports whether a service can be updated in place: same
// socket, same forwarding code.
func sameDataPath(a, b *ServiceConfig) bool {
	return b != nil && a.Listen == b.Listen && a.Protocol == b.Protocol && a.Mode == b.Mode
}

// updateService applies sc to a running service whose socket and mode are
// unchanged.
func (b *Balancer) updateService(s *service, sc ServiceConfig) {
	prev := s.picker.pools.Load()
	ps, err := b.buildPools(s, sc, prev)
	if err != nil { // validated in prepare; cannot happen
		b.log.Error("reloading service failed", "service", s.name, "err", err)
		return
	}
	s.picker.pools.Store(ps)
	s.limit.SetMax(sc.MaxConn)
	switch {
	case s.tcp != nil:
		s.tcp.SetConfig(tcpConfig(sc))
	case s.udp != nil:
		s.udp.SetConfig(udpConfig(sc, s.b.clock))
	default:
		s.web.SetConfig(l7Config(sc, s.b.clock))
	}
	if err := s.setChecker(sc); err != nil { // validated in prepare; cannot happen
		b.log.Error("reloading health check failed", "service", s.name, "err", err)
	}
	s.startMonitors(sc.Monitors)
	b.log.Info("service reloaded", "service", s.name, "reals", len(sc.Reals), "backups", len(sc.Backups))
}
