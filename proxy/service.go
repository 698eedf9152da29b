package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/connlimit"
	"github.com/hapair/hapair/proxy/l4"
	"github.com/hapair/hapair/proxy/l7"
)

// service is one virtual service: its scheduling state, checks and data path.
type service struct {
	b      *Balancer
	name   string
	picker *picker
	ctx    context.Context // ends when the service is removed
	cancel context.CancelFunc
	limit  *connlimit.Limit // the service's maxconn

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
	poolFirst  bool // pool left the primaries only because none was checked yet
}

// setActive reports whether the state changed.
func (s *service) setActive(on bool) bool {
	if on && !s.isActive() {
		s.picker.first.Store(0) // a new activation: its first connection is still to come
	}
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

// newService builds a service (not yet bound or serving). With prev, reals
// of the same address are carried over with their health, drain state and
// connection counts, and so is the persistence table.
func (b *Balancer) newService(sc ServiceConfig, prev *service) (*service, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{b: b, name: sc.Name, picker: &picker{now: b.clock.Now}, ctx: ctx, cancel: cancel,
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
	s.limit = connlimit.New(sc.MaxConn)
	gate := connlimit.NewGate(s.limit, b.maxConn)
	switch {
	case sc.Protocol == "udp":
		s.udp = l4.NewUDP(s.picker, udpConfig(sc, s.b.clock), log)
	case sc.Mode == "http":
		s.web = l7.New(s.picker, l7Config(sc, s.b.clock), log)
		s.web.SetGate(gate, ctx.Done())
	default:
		s.tcp = l4.NewTCP(s.picker, tcpConfig(sc), log)
		s.tcp.SetGate(gate, ctx.Done())
	}
	return s, nil
}

func tcpConfig(sc ServiceConfig) l4.TCPConfig {
	return l4.TCPConfig{ConnectTimeout: sc.ConnectTimeout, IdleTimeout: sc.IdleTimeout}
}

func udpConfig(sc ServiceConfig, clk clock.Clock) l4.UDPConfig {
	return l4.UDPConfig{IdleTimeout: sc.IdleTimeout, MaxFlows: sc.MaxFlows, Clock: clk}
}

func l7Config(sc ServiceConfig, clk clock.Clock) l7.Config {
	return l7.Config{Service: sc.Name, ConnectTimeout: sc.ConnectTimeout, IdleTimeout: sc.IdleTimeout,
		RequestTimeout: sc.RequestTimeout, BodyTimeout: sc.BodyTimeout, Clock: clk}
}

// setChecker builds the service's checker from its spec.
func (s *service) setChecker(sc ServiceConfig) error {
	s.checker = nil
	if sc.Check.Type == "" {
		return nil
	}
	c, err := check.New(sc.Check)
	if err != nil {
		return fmt.Errorf("service %q: %w", sc.Name, err)
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
		return fmt.Errorf("service %q: %w", s.name, err)
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
		if err != nil && s.ctx.Err() == nil {
			// Not a removal or a shutdown: the listener failed under a
			// service that may be active. The owner must not keep saying
			// "master" over a dead service.
			reason := fmt.Sprintf("service %s stopped serving: %v", s.name, err)
			s.b.log.Error("service stopped serving", "service", s.name, "err", err)
			if f := s.b.onFailure; f != nil {
				go f(s.name, reason)
			}
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
