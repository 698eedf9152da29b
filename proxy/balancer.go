package proxy

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/connlimit"
)

// Options are the balancer's collaborators; the zero value is usable.
type Options struct {
	Logger *slog.Logger // nil discards
	Clock  clock.Clock  // persistence, health-check pacing (default clock.Real{})
	Rand   *rand.Rand   // seeds schedulers (default: seeded from the clock)
	// OnFailure is called (on its own goroutine) when a service stops
	// serving on its own, its listener having failed, with the service
	// and the reason: the node hands the group that activates it over.
	// nil: logged only.
	OnFailure func(service, reason string)
	// OnHealth is called (on a health-check goroutine) after a real's
	// health changed and the pools took it in, so a caller that reads
	// the health from Snapshot learns when to read it again instead of
	// polling. It must not block. nil: nobody is told.
	OnHealth func()
}

// Balancer owns a node's virtual services. Its methods are safe for
// concurrent use.
type Balancer struct {
	log        *slog.Logger
	clock      clock.Clock
	prober     *check.Prober
	onFailure  func(service, reason string)
	healthHook func()

	jobsMu sync.Mutex
	jobs   map[string]jobRef // prober job id -> real

	janitorStop, janitorDone chan struct{} // persistence expiry loop

	maxConn *connlimit.Limit // balancer-wide maxconn

	mu         sync.Mutex
	rng        *rand.Rand
	services   map[string]*service
	order      []string // config order, for the table
	wantActive map[string]bool
	draining   map[string]bool // Quiesce'd, until Activate or Quiesce(false)
	closed     bool
}

// New binds every service's listener (with IP_FREEBIND, so VIPs need not be
// present) and starts health checks and monitors. Every service starts
// inactive: it refuses traffic until Activate.
func New(cfg Config, opts Options) (*Balancer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Clock = clock.Or(opts.Clock)
	tuneProcs()
	if opts.Rand == nil {
		seed := uint64(opts.Clock.Now().UnixNano())
		opts.Rand = rand.New(rand.NewPCG(seed, seed>>32|1))
	}
	b := &Balancer{
		log: opts.Logger, clock: opts.Clock, rng: opts.Rand, onFailure: opts.OnFailure, healthHook: opts.OnHealth,
		services:   make(map[string]*service),
		wantActive: make(map[string]bool),
		draining:   make(map[string]bool),
		maxConn:    connlimit.New(0),
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
		if on {
			delete(b.draining, n) // a new activation ends a drain
			if s.web != nil {
				s.web.SetQuiesce(false)
			}
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
		return fmt.Errorf("unknown service %q", name)
	}
	s.mu.Lock()
	r, ok := s.reals[addr]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("service %q has no real %s", name, addr)
	}
	if r.draining.Swap(on) != on {
		b.log.Info("real "+map[bool]string{true: "draining", false: "enabled"}[on], "service", name, "real", addr.String())
	}
	s.updatePool()
	return nil
}
