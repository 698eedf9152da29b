package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/fwd"
	"github.com/hapair/hapair/proxy"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/nft"
	"github.com/ti-mo/conntrack"
)

// kernelServices runs the nat and dr services: their health checks run on
// every node (warm, as the balancer's do), and the nftables tables
// (proxy/nft) hold the services active on this node. Every change (a
// balancer resource starting or stopping, a real's health, a drain) is one
// Apply: one atomic batch per table. Its methods are safe for concurrent
// use.
type kernelServices struct {
	log    *slog.Logger
	tables *nft.Tables
	prober *check.Prober

	mu    sync.Mutex
	order []string
	svcs  map[string]*kernelService
	jobs  map[string]bool // prober job ids

	sticky kernelSticky // persistence sync (kernelsync.go)

	// natOn: the last Apply had a nat service. linger: the NAT hooks are
	// kept after the last nat service went (nft.ApplyKeepNAT) until it
	// fires; lingerGen tells a timer that fired from a stopped one.
	natOn       bool
	linger      *time.Timer
	lingerGen   uint64
	lingerFor   time.Duration // natLinger; shorter in tests
	lingerUntil time.Time     // when linger fires

	// openCT opens the kernel's conntrack table for releaseLiberal; nil
	// in tests that drive the tables only.
	openCT func() (conntrackCloser, error)

	// changed is called after a real's health changed (Node.pokeReadiness);
	// nil in tests. Set before the prober starts, never changed.
	changed func()
}

// conntrackCloser is nft.Conntrack with the sockets to close.
type conntrackCloser interface {
	nft.Conntrack
	Close() error
}

// natLinger is how long a node that released its last nat service keeps
// the kernel translating the connections it carried: longer than the new
// owner's first gratuitous ARP burst (5 × 200 ms, vip.DefaultSchedule),
// after which the client and the reals send those connections' packets to
// the new owner, and short enough that the table is gone soon after the
// group stops. LVS users get the same from keepalived, which keeps the
// IPVS services on the backup too.
const natLinger = 2 * time.Second

type kernelService struct {
	cfg     config.Service
	spec    check.Spec
	active  bool
	healthy map[netip.AddrPort]bool
	reason  map[netip.AddrPort]string
	drain   map[netip.AddrPort]bool
	// seed: activated and not applied yet; the first Apply loads the
	// peer's persistence entries into its new sets.
	seed bool
}

// newKernelServices returns nil when cfg has no nat or dr service.
// changed is called after each health change of a real (on a prober
// goroutine; it must not block); nil for nobody.
func newKernelServices(cfg *config.Config, log *slog.Logger, changed func()) (*kernelServices, error) {
	k := &kernelServices{log: log, svcs: map[string]*kernelService{}, lingerFor: natLinger, changed: changed}
	for _, s := range cfg.Services {
		if !s.Method.Kernel() {
			continue
		}
		sp := kernelSpec(s, nil)
		if err := sp.Validate(); err != nil {
			return nil, err
		}
		k.order = append(k.order, s.Name)
		k.svcs[s.Name] = &kernelService{cfg: s, spec: checkSpec(s), healthy: map[netip.AddrPort]bool{},
			reason: map[netip.AddrPort]string{}, drain: map[netip.AddrPort]bool{}}
	}
	if len(k.order) == 0 {
		return nil, nil
	}
	conn, err := nft.OpenNetlink()
	if err != nil {
		return nil, err
	}
	dr := false
	for _, s := range k.svcs {
		dr = dr || s.cfg.Method == fwd.DR
	}
	// Refuse to start without what the services need, naming the piece,
	// rather than fail at the first takeover.
	if err := nft.Check(conn, dr); err != nil {
		return nil, err
	}
	k.tables = nft.New(conn)
	k.openCT = func() (conntrackCloser, error) { return nft.OpenCTNetlink() }
	k.stickyInit()
	// Nothing is active before this node takes a group: a table a crashed
	// run left (marked as hapair's) goes now, not at the first takeover.
	if err := k.tables.Apply(nil); err != nil {
		return nil, err
	}
	k.prober = check.NewProber(check.ProberConfig{OnChange: k.onHealth})
	k.jobs = map[string]bool{}
	// Under k.mu as in reload: a real's first check runs at once in the
	// prober's goroutine, and its onHealth writes the maps syncJobs fills.
	k.mu.Lock()
	err = k.syncJobs()
	k.mu.Unlock()
	if err != nil {
		k.prober.Stop()
		return nil, err
	}
	return k, nil
}

// syncJobs makes the prober's jobs match the services' reals: a job whose
// real stays keeps its health (Prober.Add updates in place). k.mu held.
func (k *kernelServices) syncJobs() error {
	want := map[string]bool{}
	for _, name := range k.order {
		s := k.svcs[name]
		if s.spec.Type == "" {
			continue
		}
		c, err := check.New(s.spec)
		if err != nil {
			return fmt.Errorf("service %q: %w", name, err)
		}
		for _, r := range s.cfg.Reals {
			id := name + " " + r.Address.String()
			want[id] = true
			rc, spec := c, s.spec
			if r.Request != "" || r.Receive != nil {
				// The real's own request and receive (ldirectord's
				// per-real strings).
				if r.Request != "" {
					spec.Request = check.NormalizeRequest(r.Request)
				}
				if r.Receive != nil {
					spec.Receive = r.Receive
				}
				if rc, err = check.New(spec); err != nil {
					return fmt.Errorf("service %q real %s: %w", name, r.Address, err)
				}
			}
			if err := k.prober.Add(check.Job{ID: id, Target: r.Address, Checker: rc, Spec: spec}); err != nil {
				return err
			}
			if st, ok := k.prober.Status(id); ok {
				s.healthy[r.Address], s.reason[r.Address] = st.Healthy, st.Reason
			}
		}
	}
	for id := range k.jobs {
		if !want[id] {
			k.prober.Remove(id)
		}
	}
	k.jobs = want
	return nil
}

// reload takes cfg's kernel services: a service or real that stays keeps
// its activation, health and drain; one that goes is dropped; the tables
// are rewritten in one batch per family, so established connections stay
// (conntrack and the flow sets pin them; dynamic sets of kept reals stay).
// On an invalid service nothing changes.
func (k *kernelServices) reload(cfg *config.Config) error {
	next := map[string]*kernelService{}
	var order []string
	for _, s := range cfg.Services {
		if !s.Method.Kernel() {
			continue
		}
		sp := kernelSpec(s, nil)
		if err := sp.Validate(); err != nil {
			return err
		}
		ks := &kernelService{cfg: s, spec: checkSpec(s), healthy: map[netip.AddrPort]bool{},
			reason: map[netip.AddrPort]string{}, drain: map[netip.AddrPort]bool{}}
		k.mu.Lock()
		if old, ok := k.svcs[s.Name]; ok {
			ks.active = old.active
			for _, r := range s.Reals {
				ks.healthy[r.Address], ks.reason[r.Address], ks.drain[r.Address] = old.healthy[r.Address], old.reason[r.Address], old.drain[r.Address]
			}
		}
		k.mu.Unlock()
		next[s.Name] = ks
		order = append(order, s.Name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.svcs, k.order = next, order
	k.stickyTables()
	if err := k.syncJobs(); err != nil {
		return err
	}
	return k.applyLocked()
}

func checkSpec(s config.Service) check.Spec {
	return check.Spec{
		Type: s.Check.Type, Request: s.Check.Request, Host: s.Check.Host,
		Receive: s.Check.Receive, Status: s.Check.Status, Port: s.Check.Port,
		Program: s.Check.Program, Args: s.Check.Args, Virtual: s.Listen,
		Interval: s.Check.Interval, Timeout: s.Check.Timeout,
		Rise: s.Check.Rise, Fall: s.Check.Fall,
	}
}

// kernelSpec maps a service and its reals' state (nil: all up) to
// proxy/nft, with ldirectord's semantics: a failed real is removed, or
// given weight 0 when the service is quiescent; a drained real takes no
// new connections; the fallback serves while no real can.
func kernelSpec(s config.Service, ks *kernelService) nft.Service {
	out := nft.Service{Name: s.Name, Method: s.Method, Protocol: s.Protocol, VIP: s.Listen,
		Scheduler: s.Scheduler, Persistent: s.Persistent, Ingress: s.Interface}
	for _, r := range s.Reals {
		nr := nft.Real{Addr: r.Address, Weight: r.Weight}
		if ks != nil {
			up := ks.healthy[r.Address] || ks.spec.Type == ""
			switch {
			case ks.drain[r.Address]:
				nr.Down = true
			case !up && s.Quiescent:
				nr.Weight = 0
			case !up:
				nr.Down = true
			}
		}
		out.Reals = append(out.Reals, nr)
	}
	if s.Fallback.IsValid() {
		out.Fallback = &nft.Real{Addr: s.Fallback, Weight: 1}
	}
	return out
}

func (k *kernelServices) onHealth(id string, healthy bool, reason string) {
	if k.changed != nil {
		defer k.changed() // after the unlock: the reader takes k.mu
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for name, s := range k.svcs {
		for _, r := range s.cfg.Reals {
			if name+" "+r.Address.String() != id {
				continue
			}
			s.healthy[r.Address], s.reason[r.Address] = healthy, reason
			if healthy {
				k.log.Info("real up", "service", name, "real", r.Address.String())
			} else {
				k.log.Warn("real down", "service", name, "real", r.Address.String(), "reason", reason, "quiescent", s.cfg.Quiescent)
			}
			if s.active {
				if err := k.applyLocked(); err != nil {
					k.log.Error("applying a health change to the kernel failed", "service", name, "err", err)
				}
			}
		}
	}
}

// setActive activates or deactivates the named kernel services; names
// that are not kernel services are ignored (the balancer has them). The
// TCP connections of the nat services it deactivates are then marked
// liberal (releaseLiberal).
func (k *kernelServices) setActive(names []string, on bool) error {
	k.mu.Lock()
	var changed []nft.Service
	for _, n := range names {
		if s, ok := k.svcs[n]; ok && s.active != on {
			s.active, s.seed = on, on
			changed = append(changed, kernelSpec(s.cfg, s))
		}
	}
	if len(changed) == 0 {
		k.mu.Unlock()
		return nil
	}
	err := k.applyLocked()
	k.mu.Unlock()
	if err == nil && !on {
		k.releaseLiberal(changed)
	}
	return err
}

// markLiberal marks the connections of the named kernel services
// liberal (releaseLiberal), before their release.
func (k *kernelServices) markLiberal(names []string) {
	var svcs []nft.Service
	k.mu.Lock()
	for _, n := range names {
		if s, ok := k.svcs[n]; ok {
			svcs = append(svcs, kernelSpec(s.cfg, s))
		}
	}
	k.mu.Unlock()
	k.releaseLiberal(svcs)
}

// releaseLiberal marks the conntrack entries of the nat services this
// node has just released liberal (nft.Liberal), so that while the NAT
// hooks linger the replies of their connections are still translated
// here after the clients' segments have moved to the new owner; without
// it conntrack's window tracking found such a reply invalid and it went
// to the client untranslated, which reset the connection. (A take-back
// also finds these entries, with the windows this node last saw: the
// marks cover it too, beside conntrackd's commit, which updates an entry
// that exists with the same flag.) A failure is logged: the release goes
// on.
func (k *kernelServices) releaseLiberal(svcs []nft.Service) {
	if k.openCT == nil {
		return
	}
	start := time.Now()
	ct, err := k.openCT()
	if err != nil {
		k.log.Warn("marking released connections liberal failed; a reply that still reaches this node after the move may be reset", "err", err)
		return
	}
	defer ct.Close()
	n, err := nft.Liberal(ct, svcs)
	if err != nil {
		k.log.Warn("marking released connections liberal failed for some; a reply of those that still reaches this node after the move may be reset", "marked", n, "err", err)
	}
	k.log.Debug("released connections marked liberal", "marked", n, "took", time.Since(start).Round(time.Microsecond))
}

func (k *kernelServices) applyLocked() error {
	var svcs []nft.Service
	now := time.Now()
	for _, name := range k.order {
		s := k.svcs[name]
		if !s.active {
			continue
		}
		ns := kernelSpec(s.cfg, s)
		if s.seed {
			k.seed(&ns, now)
		}
		if ns.Method == fwd.DR {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := nft.ResolveDR(ctx, &ns)
			cancel()
			if err != nil {
				return err
			}
		}
		svcs = append(svcs, ns)
	}
	nat := slices.ContainsFunc(svcs, func(s nft.Service) bool { return s.Method == fwd.NAT })
	keep := !nat && (k.natOn || k.linger != nil)
	apply := k.tables.Apply
	if keep {
		apply = k.tables.ApplyKeepNAT
	}
	if err := apply(svcs); err != nil {
		return err
	}
	k.natOn = nat
	switch {
	case !keep:
		k.stopLinger()
	case k.linger == nil:
		k.lingerGen++
		gen := k.lingerGen
		k.lingerUntil = time.Now().Add(k.lingerFor)
		k.linger = time.AfterFunc(k.lingerFor, func() { k.endLinger(gen) })
	}
	for _, s := range k.svcs {
		s.seed = false
	}
	return nil
}

func (k *kernelServices) stopLinger() {
	if k.linger != nil {
		k.linger.Stop()
		k.linger = nil
	}
	k.lingerGen++
}

// endLinger removes the NAT hooks kept after the last nat service went,
// unless a later change already did (its generation is gone).
func (k *kernelServices) endLinger(gen uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if gen != k.lingerGen {
		return
	}
	k.linger = nil
	if err := k.applyLocked(); err != nil {
		k.log.Error("removing the kept nat hooks after the release failed", "err", err)
	}
}

// has reports whether name is a kernel service.
func (k *kernelServices) has(name string) bool {
	if k == nil {
		return false
	}
	_, ok := k.svcs[name]
	return ok
}

// setDraining is `hactl real disable|enable` for a kernel service.
func (k *kernelServices) setDraining(name string, real netip.AddrPort, on bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.svcs[name]
	if !slices.ContainsFunc(s.cfg.Reals, func(r config.Real) bool { return r.Address == real }) {
		return fmt.Errorf("service %q has no real %s", name, real)
	}
	s.drain[real] = on
	if !s.active {
		return nil
	}
	return k.applyLocked()
}

// snapshot returns the kernel services as `hactl services` rows, with
// connection counts from conntrack (nat) or the flow sets (dr).
func (k *kernelServices) snapshot() []proxy.ServiceStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	var active []nft.Service
	for _, name := range k.order {
		if s := k.svcs[name]; s.active {
			active = append(active, kernelSpec(s.cfg, s))
		}
	}
	var counts map[string]map[netip.AddrPort]nft.Counts
	if len(active) > 0 {
		ct, err := conntrack.Dial(nil)
		if err == nil {
			counts, err = k.tables.Connections(ct, active)
			ct.Close()
		}
		if err != nil {
			k.log.Warn("reading connection counts failed", "err", err)
		}
	}
	var out []proxy.ServiceStatus
	for _, name := range k.order {
		s := k.svcs[name]
		spec := kernelSpec(s.cfg, s)
		st := proxy.ServiceStatus{Name: name, Protocol: s.cfg.Protocol, Listen: s.cfg.Listen.String(), Mode: string(s.cfg.Method),
			Scheduler: s.cfg.Scheduler, Quiescent: s.cfg.Quiescent, Check: s.spec.Type, Active: s.active, Pool: "primary",
			PoolReason: "kernel (" + string(s.cfg.Method) + ")"}
		if st.Check == "" {
			st.Check = "none"
		}
		if s.cfg.Persistent > 0 {
			st.Persistent = s.cfg.Persistent.String()
		}
		for i, r := range spec.Reals {
			up := s.healthy[r.Addr] || s.spec.Type == ""
			rs := proxy.RealStatus{Address: r.Addr.String(), Pool: "primary", Weight: s.cfg.Reals[i].Weight,
				Healthy: up, Removed: !up && !s.cfg.Quiescent, Reason: s.reason[r.Addr], Draining: s.drain[r.Addr]}
			if !r.Down {
				rs.Effective = r.Weight
			}
			if rs.Reason == "" {
				rs.Reason = "ok"
			}
			c := counts[name][r.Addr]
			rs.ActiveConn, rs.InActConn = int64(c.Active), int64(c.Inactive)
			st.Reals = append(st.Reals, rs)
		}
		if spec.Fallback != nil {
			c := counts[name][spec.Fallback.Addr]
			st.Fallback = &proxy.RealStatus{Address: spec.Fallback.Addr.String(), Pool: "fallback", Weight: 1, Effective: 1,
				Healthy: true, Reason: "fallback", ActiveConn: int64(c.Active), InActConn: int64(c.Inactive)}
		}
		out = append(out, st)
	}
	return out
}

// close removes hapair's tables and stops the checks, at had's exit. A
// node that stops on purpose (SIGTERM) has just released its groups to a
// peer: while the NAT hooks are kept for that release (natLinger), close
// waits for the rest of it first, so the connections it carried are still
// translated until the peers follow the new owner's ARP; had's exit takes
// at most natLinger longer.
func (k *kernelServices) close() error {
	if k == nil {
		return nil
	}
	if k.prober != nil { // nil in tests that drive the tables only
		k.prober.Stop()
	}
	k.mu.Lock()
	var wait time.Duration
	if k.linger != nil {
		wait = min(time.Until(k.lingerUntil), k.lingerFor)
	}
	k.mu.Unlock()
	if wait > 0 {
		k.log.Info("keeping the nat hooks for the connections just handed over before removing the tables", "for", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		<-t.C
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stopLinger()
	return k.tables.Remove()
}

// removeStaleTables removes the tables an earlier run left when this run
// has no kernel services; a host without nftables has none to remove.
func removeStaleTables(log *slog.Logger) {
	conn, err := nft.OpenNetlink()
	if err != nil {
		return
	}
	switch err := nft.New(conn).Remove(); {
	case errors.Is(err, nft.ErrNotOurs):
		log.Warn("leaving a table named hapair alone", "reason", "it has no hapair marker", "err", err)
	case err != nil:
		log.Debug("no stale nftables tables removed", "err", err)
	}
}
