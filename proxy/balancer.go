package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/l4"
	"github.com/hapair/hapair/proxy/l7"
	"github.com/hapair/hapair/proxy/persist"
	"github.com/hapair/hapair/proxy/sched"
)

// Options are the balancer's collaborators; the zero value is usable.
type Options struct {
	Logger *slog.Logger // nil discards
	Clock  clock.Clock  // persistence, health-check pacing (default clock.Real{})
	Rand   *rand.Rand   // seeds schedulers (default: seeded from the clock)
}

// Balancer owns a node's virtual services. Its methods are safe for
// concurrent use.
type Balancer struct {
	log    *slog.Logger
	clock  clock.Clock
	prober *check.Prober

	jobsMu sync.Mutex
	jobs   map[string]jobRef // prober job id -> real

	janitorStop, janitorDone chan struct{} // persistence expiry loop

	mu         sync.Mutex
	rng        *rand.Rand
	services   map[string]*service
	order      []string // config order, for the table
	wantActive map[string]bool
	closed     bool
}

// service is one virtual service: its scheduling state, checks and data path.
type service struct {
	b      *Balancer
	name   string
	picker *picker
	ctx    context.Context // ends when the service is removed
	cancel context.CancelFunc

	// Data path: exactly one of tcp, udp, web is set.
	tcp    *l4.TCPProxy
	udp    *l4.UDPProxy
	web    *l7.Proxy
	ln     *net.TCPListener
	pc     *net.UDPConn
	served chan struct{}

	checker check.Checker // nil: no health checks

	mu         sync.Mutex
	reals      map[netip.AddrPort]*real // primaries, backups and fallback
	monSpec    []check.Monitor
	monStop    context.CancelFunc
	monBackup  bool   // the MonitorSet's verdict
	monReason  string // and its reason, with the monitor's output
	pool       string // "primary", "backup", "fallback", "none"
	poolReason string
}

// New binds every service's listener (with IP_FREEBIND, so VIPs need not be
// present) and starts health checks and monitors. Every service starts
// inactive: it refuses traffic until Activate.
func New(cfg Config, opts Options) (*Balancer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Rand == nil {
		seed := uint64(opts.Clock.Now().UnixNano())
		opts.Rand = rand.New(rand.NewPCG(seed, seed>>32|1))
	}
	b := &Balancer{
		log: opts.Logger, clock: opts.Clock, rng: opts.Rand,
		services:   make(map[string]*service),
		wantActive: make(map[string]bool),
	}
	b.prober = check.NewProber(check.ProberConfig{
		Rand:     rand.New(rand.NewPCG(opts.Rand.Uint64(), opts.Rand.Uint64())),
		Clock:    opts.Clock,
		OnChange: b.onHealth,
	})
	if err := b.Reload(cfg); err != nil {
		b.Close()
		return nil, err
	}
	b.janitorStop = make(chan struct{})
	b.janitorDone = make(chan struct{})
	go b.janitor()
	return b, nil
}

// persistSweep is how often expired affinity entries are dropped. Lookups
// already ignore expired entries; the sweep only bounds memory.
const persistSweep = 10 * time.Second

func (b *Balancer) janitor() {
	defer close(b.janitorDone)
	t := b.clock.NewTicker(persistSweep)
	defer t.Stop()
	for {
		select {
		case <-b.janitorStop:
			return
		case <-t.C():
			b.ExpirePersistence()
		}
	}
}

// Activate makes the named services accept traffic (the `balancer`
// resource calls it when its group starts here). It only flips a flag:
// listeners are already bound and reals already checked. Unknown names are
// an error, after the known ones are activated; they are remembered, so a
// service added later by Reload starts active.
func (b *Balancer) Activate(names ...string) error { return b.setActive(names, true) }

// Deactivate makes the named services refuse new traffic; established
// connections finish. Listeners stay bound so that activating again costs
// nothing and cannot fail (a bind at takeover time could).
func (b *Balancer) Deactivate(names ...string) error { return b.setActive(names, false) }

func (b *Balancer) setActive(names []string, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var unknown []string
	for _, n := range names {
		b.wantActive[n] = on
		s, ok := b.services[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if s.setActive(on) {
			b.log.Info("service "+map[bool]string{true: "activated", false: "deactivated"}[on], "service", n)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("proxy: unknown service(s) %q", unknown)
	}
	return nil
}

// setActive reports whether the state changed.
func (s *service) setActive(on bool) bool {
	switch {
	case s.tcp != nil:
		was := s.tcp.Active()
		s.tcp.SetActive(on)
		return was != on
	case s.udp != nil:
		was := s.udp.Active()
		s.udp.SetActive(on)
		return was != on
	default:
		was := s.web.Active()
		s.web.SetActive(on)
		return was != on
	}
}

func (s *service) isActive() bool {
	switch {
	case s.tcp != nil:
		return s.tcp.Active()
	case s.udp != nil:
		return s.udp.Active()
	default:
		return s.web.Active()
	}
}

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

// newService builds a service (not yet bound or serving). With prev, reals
// of the same address are carried over with their health, drain state and
// connection counts, and so is the persistence table.
func (b *Balancer) newService(sc ServiceConfig, prev *service) (*service, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{b: b, name: sc.Name, picker: &picker{}, ctx: ctx, cancel: cancel,
		reals: make(map[netip.AddrPort]*real)}
	var prevPools *pools
	if prev != nil {
		prev.mu.Lock()
		for a, r := range prev.reals {
			s.reals[a] = r
		}
		prev.mu.Unlock()
		prevPools = prev.picker.pools.Load()
	}
	if err := s.setChecker(sc); err != nil {
		cancel()
		return nil, err
	}
	ps, err := b.buildPools(s, sc, prevPools)
	if err != nil {
		cancel()
		return nil, err
	}
	s.picker.pools.Store(ps)
	log := b.log.With("service", sc.Name)
	switch {
	case sc.Protocol == "udp":
		s.udp = l4.NewUDP(s.picker, l4.UDPConfig{IdleTimeout: sc.IdleTimeout}, log)
	case sc.Mode == "http":
		s.web = l7.New(s.picker, l7Config(sc), log)
	default:
		s.tcp = l4.NewTCP(s.picker, tcpConfig(sc), log)
	}
	return s, nil
}

func tcpConfig(sc ServiceConfig) l4.TCPConfig {
	return l4.TCPConfig{ConnectTimeout: sc.ConnectTimeout, IdleTimeout: sc.IdleTimeout}
}

func l7Config(sc ServiceConfig) l7.Config {
	return l7.Config{Service: sc.Name, ConnectTimeout: sc.ConnectTimeout, IdleTimeout: sc.IdleTimeout}
}

// buildPools makes the scheduling view for sc, reusing s.reals by address
// and prev's scheduler and persistence table where they still fit. Reals
// no longer listed are dropped from s.reals and their probes stopped.
func (b *Balancer) buildPools(s *service, sc ServiceConfig, prev *pools) (*pools, error) {
	ps := &pools{cfg: &sc}
	if prev != nil && prev.cfg.Scheduler == sc.Scheduler {
		ps.sched = prev.sched // keeps wrr/rr position
	} else {
		sch, err := sched.New(sc.Scheduler, b.rng)
		if err != nil {
			return nil, fmt.Errorf("proxy: service %q: %w", sc.Name, err)
		}
		ps.sched = sch
	}
	if sc.Persistent > 0 {
		if prev != nil && prev.sticky != nil && prev.cfg.Persistent == sc.Persistent {
			ps.sticky = prev.sticky
		} else {
			ps.sticky = persist.New(sc.Persistent, b.clock.Now)
			if prev != nil && prev.sticky != nil {
				ps.sticky.Import(prev.sticky.Export())
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := make(map[netip.AddrPort]bool)
	take := func(rc RealConfig) *real {
		keep[rc.Address] = true
		r, ok := s.reals[rc.Address]
		if !ok {
			r = newReal(rc.Address, rc.Weight)
			s.reals[rc.Address] = r
		}
		r.weight.Store(int32(rc.Weight))
		return r
	}
	for _, rc := range sc.Reals {
		ps.primaries = append(ps.primaries, take(rc))
	}
	for _, rc := range sc.Backups {
		ps.backups = append(ps.backups, take(rc))
	}
	if sc.Fallback.IsValid() {
		ps.fallback = take(RealConfig{Address: sc.Fallback, Weight: 1})
		ps.fallback.healthy.Store(true) // the sorry server is not checked
	}
	for a := range s.reals {
		if !keep[a] {
			// Its probe is removed by syncJobs; its open connections keep
			// counting on the real.
			delete(s.reals, a)
			if ps.sticky != nil {
				ps.sticky.Forget(a)
			}
		}
	}
	return ps, nil
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
	switch {
	case s.tcp != nil:
		s.tcp.SetConfig(tcpConfig(sc))
	case s.udp != nil:
		s.udp.SetConfig(l4.UDPConfig{IdleTimeout: sc.IdleTimeout})
	default:
		s.web.SetConfig(l7Config(sc))
	}
	if err := s.setChecker(sc); err != nil { // validated in prepare; cannot happen
		b.log.Error("reloading health check failed", "service", s.name, "err", err)
	}
	s.startMonitors(sc.Monitors)
	b.log.Info("service reloaded", "service", s.name, "reals", len(sc.Reals), "backups", len(sc.Backups))
}

// setChecker builds the service's checker from its spec.
func (s *service) setChecker(sc ServiceConfig) error {
	s.checker = nil
	if sc.Check.Type == "" {
		return nil
	}
	c, err := check.New(sc.Check)
	if err != nil {
		return fmt.Errorf("proxy: service %q: %w", sc.Name, err)
	}
	s.checker = c
	return nil
}

func (s *service) bind() error {
	cfg := s.picker.pools.Load().cfg
	var err error
	if cfg.Protocol == "udp" {
		s.pc, err = l4.ListenUDP(context.Background(), cfg.Listen.String())
	} else {
		s.ln, err = l4.ListenTCP(context.Background(), cfg.Listen.String())
	}
	if err != nil {
		return fmt.Errorf("proxy: service %q: %w", s.name, err)
	}
	return nil
}

// serve starts the data path, checks and monitors of a bound service.
func (s *service) serve() {
	ps := s.picker.pools.Load()
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		var err error
		switch {
		case s.tcp != nil:
			err = s.tcp.Serve(s.ln)
		case s.udp != nil:
			err = s.udp.Serve(s.pc)
		default:
			err = s.web.Serve(s.ln)
		}
		if err != nil {
			s.b.log.Error("service stopped serving", "service", s.name, "err", err)
		}
	}()
	s.startMonitors(ps.cfg.Monitors)
}

func (s *service) closeListener() {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.pc != nil {
		_ = s.pc.Close()
	}
}

// stop ends a removed or replaced service: no new connections, checks and
// monitors stopped, established connections left to finish (HTTP requests
// in flight get up to 5 minutes).
func (s *service) stop() {
	s.cancel()
	if s.web != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			_ = s.web.Shutdown(ctx)
		}()
	}
	s.closeListener()
	if s.served != nil {
		<-s.served
	}
}

// Close stops every service and resets every connection: the node is
// shutting down.
func (b *Balancer) Close() error {
	b.prober.Stop() // first: its OnChange must not wait for b.mu
	if b.janitorStop != nil {
		close(b.janitorStop)
		<-b.janitorDone
		b.janitorStop = nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, s := range b.services {
		s.cancel()
		s.closeListener()
		if s.served != nil {
			<-s.served
		}
		switch {
		case s.tcp != nil:
			s.tcp.Close()
		case s.web != nil:
			s.web.Close()
		}
	}
	clear(b.services)
	return nil
}

// DisableReal drains a real (`hactl real disable`): it takes no new
// connections, not even from its sticky clients, and established ones
// finish.
func (b *Balancer) DisableReal(service string, real netip.AddrPort) error {
	return b.setDraining(service, real, true)
}

// EnableReal undoes DisableReal.
func (b *Balancer) EnableReal(service string, real netip.AddrPort) error {
	return b.setDraining(service, real, false)
}

func (b *Balancer) setDraining(name string, addr netip.AddrPort, on bool) error {
	b.mu.Lock()
	s, ok := b.services[name]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("proxy: unknown service %q", name)
	}
	s.mu.Lock()
	r, ok := s.reals[addr]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("proxy: service %q has no real %s", name, addr)
	}
	if r.draining.Swap(on) != on {
		b.log.Info("real "+map[bool]string{true: "draining", false: "enabled"}[on], "service", name, "real", addr.String())
	}
	s.updatePool()
	return nil
}

// ExportPersistence returns every persistent service's affinity entries,
// by service name, for syncing to the peer.
func (b *Balancer) ExportPersistence() map[string][]persist.Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string][]persist.Entry)
	for name, s := range b.services {
		if t := s.picker.pools.Load().sticky; t != nil {
			out[name] = t.Export()
		}
	}
	return out
}

// ImportPersistence merges entries received from the peer. Entries for
// services that are unknown or not persistent here are ignored and named in
// the error.
func (b *Balancer) ImportPersistence(es map[string][]persist.Entry) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var skipped []string
	for name, list := range es {
		s, ok := b.services[name]
		if !ok || s.picker.pools.Load().sticky == nil {
			skipped = append(skipped, name)
			continue
		}
		s.picker.pools.Load().sticky.Import(list)
	}
	if len(skipped) > 0 {
		slices.Sort(skipped)
		return fmt.Errorf("proxy: persistence entries for unknown or non-persistent service(s) %s ignored", strings.Join(skipped, ", "))
	}
	return nil
}

// ExpirePersistence drops expired affinity entries of every service and
// returns how many. The balancer runs it every 10s by itself.
func (b *Balancer) ExpirePersistence() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, s := range b.services {
		if t := s.picker.pools.Load().sticky; t != nil {
			n += t.Expire()
		}
	}
	return n
}
