package proxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// maxProbes bounds the health probes in flight across the balancer, so
// 1,000 reals with short intervals cannot open 1,000 sockets at once.
const maxProbes = 64

// startProbe runs r's health checks until ctx ends or r is stopped. The
// first probe runs at once, so a warm node knows its reals within one
// timeout of starting.
func (s *service) startProbe(r *real, ck CheckConfig) {
	if ck.Checker == nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r.mu.Lock()
	if r.stop != nil {
		r.stop()
	}
	r.stop = cancel
	r.mu.Unlock()
	go func() {
		t := time.NewTicker(ck.Interval)
		defer t.Stop()
		for {
			select {
			case s.b.probes <- struct{}{}:
			case <-ctx.Done():
				return
			}
			pctx, pcancel := context.WithTimeout(ctx, ck.Timeout)
			err := ck.Checker.Check(pctx, r.addr)
			if err == nil && pctx.Err() != nil {
				err = fmt.Errorf("check timed out after %v", ck.Timeout)
			} else if err != nil && errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("check timed out after %v: %w", ck.Timeout, err)
			}
			pcancel()
			<-s.b.probes
			if ctx.Err() != nil {
				return
			}
			if changed, healthy, reason := r.observe(err, ck.Rise, ck.Fall); changed {
				s.healthChanged(r, healthy, reason)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func stopProbe(r *real) {
	r.mu.Lock()
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	r.mu.Unlock()
}

// healthChanged logs a real's transition and re-evaluates the pools.
func (s *service) healthChanged(r *real, healthy bool, reason string) {
	ps := s.picker.pools.Load()
	if healthy {
		s.b.log.Info("real up", "service", s.name, "real", r.addr.String(), "reason", reason)
	} else {
		s.b.log.Warn("real down", "service", s.name, "real", r.addr.String(), "reason", reason,
			"quiescent", ps.cfg.Quiescent)
		if !ps.cfg.Quiescent && ps.sticky != nil {
			// Removal semantics (ldirectord quiescent=no): the real's
			// clients are rescheduled for good, not returned to it later.
			ps.sticky.Forget(r.addr)
		}
	}
	s.updatePool()
}

// startMonitors runs each monitor every interval until the service's
// monitor context ends.
func (s *service) startMonitors(ms []MonitorConfig) {
	s.mu.Lock()
	if s.monStop != nil {
		s.monStop()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	s.monStop = cancel
	// Keep the verdicts of monitors that survive a reload until they
	// report again; forget the others.
	keep := make(map[string]string)
	for _, m := range ms {
		if out, ok := s.monFail[m.Name]; ok {
			keep[m.Name] = out
		}
	}
	s.monFail = keep
	s.mu.Unlock()
	s.updatePool()
	for _, m := range ms {
		go func() {
			t := time.NewTicker(m.Interval)
			defer t.Stop()
			for {
				mctx, mcancel := context.WithTimeout(ctx, m.Timeout)
				out, err := m.Runner.Run(mctx)
				if err == nil && mctx.Err() != nil {
					err = fmt.Errorf("monitor timed out after %v", m.Timeout)
				}
				mcancel()
				if ctx.Err() != nil {
					return
				}
				s.monitorResult(m.Name, out, err)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}

// monitorResult records one monitor run (Zeus: any FAIL, error or timeout
// means the backup pool) and re-evaluates the pools.
func (s *service) monitorResult(name, out string, err error) {
	s.mu.Lock()
	_, wasFailing := s.monFail[name]
	if err != nil {
		detail := err.Error()
		if out != "" {
			detail += ": " + out
		}
		s.monFail[name] = detail
	} else {
		delete(s.monFail, name)
	}
	s.mu.Unlock()
	switch {
	case err != nil && !wasFailing:
		s.b.log.Warn("monitor failing", "service", s.name, "monitor", name, "reason", err.Error(), "output", out)
	case err == nil && wasFailing:
		s.b.log.Info("monitor ok", "service", s.name, "monitor", name, "output", out)
	}
	s.updatePool()
}

// updatePool chooses the pool new connections go to and logs every switch
// with its reason. Backups are used while a monitor fails or no primary is
// usable, provided some backup is usable; otherwise primaries stay (and
// with none usable, the fallback takes over in pick).
func (s *service) updatePool() {
	ps := s.picker.pools.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	var reason string
	if len(s.monFail) > 0 {
		name := slices.Min(slices.Collect(maps.Keys(s.monFail)))
		reason = fmt.Sprintf("monitor %s failing: %s", name, s.monFail[name])
	}
	if reason == "" && !anyUsable(ps.primaries) {
		reason = "no primary real usable"
	}
	use := reason != "" && anyUsable(ps.backups)
	pool := "primary"
	switch {
	case use:
		pool = "backup"
	case !anyUsable(ps.primaries) && ps.fallback != nil:
		pool = "fallback"
		reason = "no real usable"
	case !anyUsable(ps.primaries):
		pool = "none"
		reason = "no real usable and no fallback"
	case reason != "":
		reason += "; no backup usable, staying on primaries"
	default:
		reason = "all monitors ok, primaries usable"
	}
	s.picker.useBackups.Store(use)
	if pool != s.pool {
		s.b.log.Warn("pool switched", "service", s.name, "from", s.pool, "to", pool, "reason", reason)
		s.pool = pool
	}
	s.poolReason = reason
}

func anyUsable(rs []*real) bool {
	for _, r := range rs {
		if r.usable() {
			return true
		}
	}
	return false
}
