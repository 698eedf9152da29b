package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Loopback binds the announced addresses on this node (on lo: the node
// accepts traffic routed to them and never answers ARP for them on the
// LAN). AddrAdd reports whether the address is this resource's to remove
// (false: it was there already, put there by someone else). RemoveOwned
// removes an address a crashed run of had left (it carries had's mark).
type Loopback interface {
	AddrAdd(p netip.Prefix) (ours bool, err error)
	AddrDel(p netip.Prefix) error
	RemoveOwned(p netip.Prefix) (removed bool, err error)
}

// ResourceConfig is one group's bgp resource.
type ResourceConfig struct {
	Group     string
	Addresses []netip.Addr // announced as /32 and /128
	// Healthy is the health gate, polled every GateInterval while the
	// group is held: routes are withdrawn while it reports false (nil =
	// always healthy).
	Healthy      func() bool
	GateInterval time.Duration // default 100ms
	// SessionWait bounds how long Start waits for the health gate to pass
	// and then for every neighbour's session to be established (default
	// DefaultSessionWait); past it, Start logs what is missing and
	// returns, and the gate loop announces when the gate passes.
	SessionWait time.Duration
	// Arrivals counts the connections, requests or datagrams the node
	// has received so far for what the routes lead to (nil: not known).
	// After a withdraw, Stop waits for the routers to move the flows
	// away: until BIRD has sent the withdraw on every session, then
	// until Arrivals has not moved for WithdrawQuiet (the routers no
	// longer send new flows here; without Arrivals, WithdrawQuiet
	// itself), WithdrawSettle at most in all. Only then do the
	// resources stopped after it (the balancer) stop serving.
	Arrivals       func() uint64
	WithdrawQuiet  time.Duration // default DefaultWithdrawQuiet
	WithdrawSettle time.Duration // default DefaultWithdrawSettle
	Loopback       Loopback
	Logger         *slog.Logger
}

// DefaultWithdrawQuiet is ResourceConfig.WithdrawQuiet's default: a
// router applies a withdraw to its forwarding table within ms (BIRD into
// a Linux kernel, in the e2e lab) to tens of ms (a hardware FIB), and a
// client that connects every few ms to a node still routed to shows in
// far less.
const DefaultWithdrawQuiet = 200 * time.Millisecond

// DefaultWithdrawSettle is ResourceConfig.WithdrawSettle's default: how
// long a stop keeps serving after its withdraw at most, like HAProxy's
// `grace` before a soft stop; a router still sending flows after it
// gets them refused.
const DefaultWithdrawSettle = 2 * time.Second

// Resource announces one group's addresses while started.
type Resource struct {
	s      *Speaker
	cfg    ResourceConfig
	protos []string
	log    *slog.Logger

	mu      sync.Mutex
	added   []netip.Prefix     // addresses this resource put on lo
	stop    context.CancelFunc // ends the gate loop; nil when stopped
	gone    chan struct{}      // closed when the gate loop has ended
	healthy bool               // last gate verdict while started
}

// Resource registers group's addresses with s and returns its resource.
// Call it before the first Start of any of s's resources.
func (s *Speaker) Resource(cfg ResourceConfig) (*Resource, error) {
	if len(cfg.Addresses) == 0 {
		return nil, fmt.Errorf("bgp: group %q: no address to announce", cfg.Group)
	}
	if cfg.Loopback == nil {
		return nil, fmt.Errorf("bgp: group %q: no loopback", cfg.Group)
	}
	if cfg.GateInterval <= 0 {
		cfg.GateInterval = 100 * time.Millisecond
	}
	if cfg.SessionWait <= 0 {
		cfg.SessionWait = DefaultSessionWait
	}
	if cfg.WithdrawQuiet <= 0 {
		cfg.WithdrawQuiet = DefaultWithdrawQuiet
	}
	if cfg.WithdrawSettle <= 0 {
		cfg.WithdrawSettle = DefaultWithdrawSettle
	}
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	var prefixes []netip.Prefix
	var v4, v6 bool
	for _, a := range cfg.Addresses {
		prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		v4, v6 = v4 || a.Is4(), v6 || a.Is6()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A group registers again when a reload rebuilds it; BIRD's config
	// holds its routes since start, so they must be the same.
	if old, dup := s.groups[cfg.Group]; dup && !slices.Equal(old, prefixes) {
		return nil, fmt.Errorf("bgp: group %q: routes %v, BIRD runs with %v (a group has one bgp resource; changing its addresses needs a restart)", cfg.Group, prefixes, old)
	}
	s.groups[cfg.Group] = prefixes
	r := &Resource{s: s, cfg: cfg, log: cfg.Logger}
	if v4 {
		r.protos = append(r.protos, protocolName(cfg.Group))
	}
	if v6 {
		r.protos = append(r.protos, protocolName(cfg.Group)+"_6")
	}
	return r, nil
}

// Name returns "bgp 198.18.2.100 via 1 neighbour(s)".
func (r *Resource) Name() string {
	as := make([]string, len(r.cfg.Addresses))
	for i, a := range r.cfg.Addresses {
		as[i] = a.String()
	}
	return fmt.Sprintf("bgp %s via %d neighbour(s)", strings.Join(as, ","), len(r.s.opts.Neighbors))
}

// Start binds the addresses on lo, starts BIRD if needed and announces
// the routes once the health gate passes, then waits until every
// neighbour's session is established so that they went out (both waits
// at most SessionWait in all); then keeps polling the gate.
func (r *Resource) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop != nil {
		return nil
	}
	for _, a := range r.cfg.Addresses {
		p := netip.PrefixFrom(a, a.BitLen())
		added, err := r.cfg.Loopback.AddrAdd(p)
		if err != nil {
			return fmt.Errorf("bgp: binding %s on lo: %w", p, err)
		}
		if added {
			r.added = append(r.added, p)
		}
	}
	if err := r.s.ensure(ctx); err != nil {
		return err
	}
	// Held means announced: the group's old owner, moving it
	// make-before-break, withdraws once it sees this node hold it. So
	// Start waits, at most SessionWait in all, for the health gate (a
	// node that just started has not checked its reals yet) and then for
	// every session; past that, the gate loop announces when it can.
	end := time.Now().Add(r.cfg.SessionWait)
	r.healthy = r.awaitGate(ctx, end)
	why := "group held here"
	if !r.healthy {
		why = fmt.Sprintf("group held here, but the health gate does not pass after %v", r.cfg.SessionWait)
	}
	if err := r.set(ctx, r.healthy, why); err != nil {
		return err
	}
	if r.healthy {
		if err := r.s.waitEstablished(ctx, time.Until(end)); err != nil {
			r.log.Warn("bgp: routes enabled, but not every router has them yet", "group", r.cfg.Group, "waited", r.cfg.SessionWait, "err", err)
		}
	}
	gctx, cancel := context.WithCancel(context.Background())
	r.stop, r.gone = cancel, make(chan struct{})
	go r.loop(gctx, r.gone)
	return nil
}

func (r *Resource) gate() bool { return r.cfg.Healthy == nil || r.cfg.Healthy() }

// awaitGate polls the health gate every GateInterval until it passes
// (true) or end or ctx comes (false).
func (r *Resource) awaitGate(ctx context.Context, end time.Time) bool {
	t := time.NewTicker(r.cfg.GateInterval)
	defer t.Stop()
	for !r.gate() {
		if !time.Now().Before(end) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// loop polls the health gate and announces or withdraws on a change.
func (r *Resource) loop(ctx context.Context, gone chan struct{}) {
	defer close(gone)
	t := time.NewTicker(r.cfg.GateInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok := r.gate()
		r.mu.Lock()
		if ctx.Err() == nil && ok != r.healthy {
			why := "health gate passes again"
			if !ok {
				why = "health gate failed: no healthy real"
			}
			if err := r.set(ctx, ok, why); err != nil {
				r.log.Warn("bgp: changing the announcement failed", "group", r.cfg.Group, "err", err)
			} else {
				r.healthy = ok
			}
		}
		r.mu.Unlock()
	}
}

// set announces (on) or withdraws the group's routes.
func (r *Resource) set(ctx context.Context, on bool, why string) error {
	verb := "disable"
	if on {
		verb = "enable"
	}
	var errs []error
	for _, p := range r.protos {
		err := r.s.command(ctx, verb+" "+p)
		if err == nil {
			r.s.noteEnabled(p, on, r.routes(p))
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	what := "withdrew"
	if on {
		what = "announced"
	}
	r.log.Info("bgp: "+what+" routes", "group", r.cfg.Group, "reason", why)
	return nil
}

// routes counts the addresses static protocol proto (an IPv4 one, or
// its IPv6 twin, suffixed "_6") holds.
func (r *Resource) routes(proto string) int {
	n := 0
	for _, a := range r.cfg.Addresses {
		if a.Is6() == strings.HasSuffix(proto, "_6") {
			n++
		}
	}
	return n
}

// Stop withdraws the routes, waits for the routers to move the flows
// away when the routes were announced (ResourceConfig.Arrivals), and
// removes the addresses it bound.
func (r *Resource) Stop(ctx context.Context) error {
	r.mu.Lock()
	stop, gone := r.stop, r.gone
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
		<-gone
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.s.Running() == nil {
		announced := stop != nil && r.healthy
		err := r.set(ctx, false, "group released")
		if err != nil {
			errs = append(errs, err)
		}
		r.healthy = false
		if announced && err == nil {
			r.settle(ctx)
		}
	}
	for _, p := range r.added {
		if err := r.cfg.Loopback.AddrDel(p); err != nil {
			errs = append(errs, fmt.Errorf("bgp: removing %s from lo: %w", p, err))
		}
	}
	r.added = nil
	return errors.Join(errs...)
}

// settle waits after a withdraw until the routers no longer send new
// flows here (ResourceConfig.Arrivals), WithdrawSettle at most, and logs
// how long each step took; past the bound it logs what it still waits
// for and returns.
func (r *Resource) settle(ctx context.Context) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.WithdrawSettle)
	defer cancel()
	if err := r.s.waitWithdrawn(ctx); err != nil {
		r.log.Warn("bgp: stopping with the withdraw not sent to every router", "group", r.cfg.Group, "waited", time.Since(start).Round(time.Millisecond), "err", err)
		return
	}
	sent := time.Since(start)
	arrivals := func() uint64 { return 0 }
	if r.cfg.Arrivals != nil {
		arrivals = r.cfg.Arrivals
	}
	t := time.NewTicker(max(r.cfg.WithdrawQuiet/20, time.Millisecond))
	defer t.Stop()
	first := arrivals()
	last, quietFrom := first, time.Now()
	for time.Since(quietFrom) < r.cfg.WithdrawQuiet {
		select {
		case <-ctx.Done():
			r.log.Warn("bgp: stopping while the routers still send flows here", "group", r.cfg.Group,
				"bound", r.cfg.WithdrawSettle, "arrived after the withdraw", last-first)
			return
		case <-t.C:
		}
		if a := arrivals(); a != last {
			last, quietFrom = a, time.Now()
		}
	}
	r.log.Info("bgp: flows moved away after the withdraw", "group", r.cfg.Group,
		"withdraw sent after", sent.Round(100*time.Microsecond), "quiet after", quietFrom.Sub(start).Round(100*time.Microsecond),
		"arrived after the withdraw", last-first, "quiet for", r.cfg.WithdrawQuiet)
}

// RemoveStale removes the addresses a crashed run left on lo, on a node
// that does not hold the group at start (BIRD is not running yet, so
// nothing is announced).
func (r *Resource) RemoveStale(context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	any := false
	var errs []error
	for _, a := range r.cfg.Addresses {
		did, err := r.cfg.Loopback.RemoveOwned(netip.PrefixFrom(a, a.BitLen()))
		any = any || did
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: removing stale %s from lo: %w", a, err))
		}
	}
	return any, errors.Join(errs...)
}

// Status reports nil while BIRD runs.
func (r *Resource) Status(context.Context) error { return r.s.Running() }
