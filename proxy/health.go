package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/hapair/hapair/proxy/check"
)

// jobRef ties a prober job to the real it decides.
type jobRef struct {
	s *service
	r *real
}

func jobID(service string, r *real) string { return service + " " + r.addr.String() }

// syncJobs makes the prober's jobs match the services: one job per checked
// real (primaries and backups; the fallback is never checked). Jobs whose
// real stays keep their health: Prober.Add updates them in place. Called
// with b.mu held, at the end of every Reload.
func (b *Balancer) syncJobs() {
	want := make(map[string]jobRef)
	for name, s := range b.services {
		ps := s.picker.pools.Load()
		own := make(map[netip.AddrPort]RealConfig) // reals with their own request/receive
		for _, rc := range slices.Concat(ps.cfg.Reals, ps.cfg.Backups) {
			if rc.overridesCheck() {
				own[rc.Address] = rc
			}
		}
		for _, r := range slices.Concat(ps.primaries, ps.backups) {
			if s.checker == nil {
				r.healthy.Store(true)
				continue
			}
			id := jobID(name, r)
			want[id] = jobRef{s, r}
			checker, spec := s.checker, ps.cfg.Check
			if rc, ok := own[r.addr]; ok {
				spec = ps.cfg.RealCheck(rc)
				c, err := check.New(spec)
				if err != nil {
					b.log.Error("building a real's own health check failed", "service", name, "real", r.addr.String(), "err", err)
					continue
				}
				checker = c
			}
			err := b.prober.Add(check.Job{ID: id, Target: r.addr, Checker: checker, Spec: spec})
			if err != nil {
				b.log.Error("adding health check failed", "service", name, "real", r.addr.String(), "err", err)
				continue
			}
			if st, ok := b.prober.Status(id); ok {
				r.healthy.Store(st.Healthy)
			}
		}
	}
	b.jobsMu.Lock()
	old := b.jobs
	b.jobs = want
	b.jobsMu.Unlock()
	for id := range old {
		if _, ok := want[id]; !ok {
			b.prober.Remove(id)
		}
	}
	for _, s := range b.services {
		s.updatePool()
	}
}

// onHealth is the prober's OnChange: one line per transition, then the
// pools are re-evaluated.
func (b *Balancer) onHealth(id string, healthy bool, reason string) {
	b.jobsMu.Lock()
	ref, ok := b.jobs[id]
	b.jobsMu.Unlock()
	if !ok {
		return
	}
	ref.r.healthy.Store(healthy)
	ref.s.healthChanged(ref.r, healthy, reason)
	if b.healthHook != nil {
		b.healthHook()
	}
}

// healthReason is the table's health detail for r.
func (b *Balancer) healthReason(s *service, r *real) string {
	if s.checker == nil {
		return "not checked"
	}
	st, ok := b.prober.Status(jobID(s.name, r))
	reason := st.Reason
	switch {
	case !ok:
		return "not checked yet"
	case st.Reason == "":
		reason = "ok"
	}
	if st.LocalError != "" {
		reason += "; local error, not counted against the real: " + st.LocalError
	}
	return reason
}

// checkCounts fills rs's health-check counters from the prober.
func (b *Balancer) checkCounts(s *service, r *real, rs *RealStatus) {
	if s.checker == nil {
		return
	}
	if st, ok := b.prober.Status(jobID(s.name, r)); ok {
		rs.Checks, rs.CheckFailures = st.Checks, st.Failures
		rs.LastCheckSeconds, rs.CheckSeconds = st.LastDuration.Seconds(), st.TotalDuration.Seconds()
	}
}

// healthChanged logs a real's transition and re-evaluates the pools.
func (s *service) healthChanged(r *real, healthy bool, reason string) {
	ps := s.picker.pools.Load()
	if healthy {
		s.b.log.Info("real up", "service", s.name, "real", r.addr.String())
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

// startMonitors runs the service's Zeus monitors through a
// check.MonitorSet. A reload that leaves the monitors as they were keeps
// the running set, and with it the current verdict.
func (s *service) startMonitors(ms []check.Monitor) {
	s.mu.Lock()
	if s.monStop != nil && equalMonitors(s.monSpec, ms) {
		s.mu.Unlock()
		return
	}
	if s.monStop != nil {
		s.monStop()
		s.monStop = nil
	}
	s.monSpec = ms
	s.monBackup, s.monReason = false, ""
	if len(ms) > 0 {
		ctx, cancel := context.WithCancel(s.ctx)
		s.monStop = cancel
		set := check.NewMonitorSet(ms, s.monitorSwitch)
		go set.Run(ctx, s.b.clock)
	}
	s.mu.Unlock()
	s.updatePool()
}

func equalMonitors(a, b []check.Monitor) bool {
	return slices.EqualFunc(a, b, func(x, y check.Monitor) bool {
		return x.Program == y.Program && slices.Equal(x.Args, y.Args) &&
			x.Interval == y.Interval && x.Timeout == y.Timeout
	})
}

// monitorSwitch is the MonitorSet's onSwitch: reason carries the monitor
// and its output ("monitor /usr/local/bin/check-db: FAIL db down").
func (s *service) monitorSwitch(backup bool, reason string) {
	s.mu.Lock()
	s.monBackup, s.monReason = backup, reason
	s.mu.Unlock()
	if backup {
		s.b.log.Warn("monitors failing", "service", s.name, "reason", reason)
	} else {
		s.b.log.Info("monitors ok", "service", s.name, "reason", reason)
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
	if s.monBackup {
		reason = s.monReason
	}
	// Whether the primaries wait for their first check is read before
	// whether they are usable: a first check that completes between the
	// two reads then counts as not in yet (its notification, on its way,
	// re-evaluates the pool), never as a real found down (CI: a warning at
	// start in TestFirstCheckAtStart, the check done, its health not yet
	// stored).
	unchecked := s.noneChecked(ps.primaries)
	primaryOK := anyUsable(ps.primaries)
	if reason == "" && !primaryOK {
		reason = "no primary real usable"
	}
	use := reason != "" && anyUsable(ps.backups)
	pool := "primary"
	switch {
	case use:
		pool = "backup"
	case !primaryOK && ps.fallback != nil:
		pool, reason = "fallback", "no real usable"
	case !primaryOK:
		pool, reason = "none", "no real usable and no fallback"
	case reason != "":
		reason += "; no backup usable, staying on primaries"
	case len(s.monSpec) > 0:
		reason = "all monitors ok"
	default:
		reason = "primaries usable"
	}
	s.picker.useBackups.Store(use)
	if pool != s.pool {
		// Leaving the primaries at start (or for reals a reload added)
		// because none has been checked yet, and returning once they
		// pass, is no failure: said at info, not as a warning that log
		// alerting would page on at every restart.
		first := !primaryOK && unchecked
		level := slog.LevelWarn
		if first || s.poolFirst {
			level = slog.LevelInfo
			if first {
				reason += " (not checked yet)"
			}
		}
		if s.pool != "" {
			s.b.log.Log(context.Background(), level, "pool switched", "service", s.name, "from", s.pool, "to", pool, "reason", reason)
		}
		s.pool, s.poolFirst = pool, first
	}
	s.poolReason = reason
}

// noneChecked reports whether rs are unusable only for want of a first
// check: checked, not drained, weighted, and no check of any of them has
// a result in the reals' health yet (firstResultIn).
func (s *service) noneChecked(rs []*real) bool {
	if s.checker == nil || len(rs) == 0 {
		return false
	}
	for _, r := range rs {
		if r.draining.Load() || r.weight.Load() <= 0 {
			return false
		}
		st, ok := s.b.prober.Status(jobID(s.name, r))
		if firstResultIn(st, ok, r.healthy.Load()) {
			return false
		}
	}
	return true
}

// firstResultIn reports whether a real's checks have a result that its
// stored health (healthy) reflects: a check completed (st, from the
// prober, ok when the real has a job) and the health it left is the one
// stored. The prober counts a check before its OnChange runs, on a
// goroutine of its own, so a first check that changed the health is
// counted while the stored health still says otherwise: not in yet.
func firstResultIn(st check.Status, ok, healthy bool) bool {
	return ok && st.Checks+st.LocalErrors > 0 && st.Healthy == healthy
}

func anyUsable(rs []*real) bool {
	for _, r := range rs {
		if r.usable() {
			return true
		}
	}
	return false
}

// checkDesc describes a check spec for the table.
func checkDesc(c check.Spec) string {
	if c.Type == "" {
		return "none"
	}
	t, err := check.Lookup(c.Type)
	switch {
	case err != nil:
	case slices.Contains(t.Keys, "request"):
		return fmt.Sprintf("%s %s every %v", c.Type, c.Request, c.Interval)
	case slices.Contains(t.Keys, "program"):
		return strings.TrimSpace(fmt.Sprintf("%s %s %s every %v", c.Type, c.Program, strings.Join(c.Args, " "), c.Interval))
	}
	return fmt.Sprintf("%s every %v", c.Type, c.Interval)
}
