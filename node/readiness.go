package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/proxy"
)

// readinessEvery is how often the persistence sync is read for
// auto_failback's readiness gate, while a gated group's services have a
// table the sync carries: a few times per check interval of the e2e and
// deploy configs, and well under a failback hold. The sync's progress
// tells nobody when it changes; the reals' health does (pokeReadiness).
const readinessEvery = 100 * time.Millisecond

// readinessBackstop is how often the readiness is read when nothing but
// health changes and reloads, which poke it, can change it. It only
// bounds the cost of a poke this file's callers forgot: polling at
// readinessEvery was 10 wake-ups a second of an idle daemon, over half of
// its CPU (DESIGN.md: under 1% of a core).
const readinessBackstop = time.Second

// readinessReport is what the machine was last told of one group.
type readinessReport struct {
	healthy int
	synced  bool
	behind  string
}

// failbackGated reports whether g's failback waits for readiness: it is
// active-passive and has a balancer, whose reals can be counted.
func failbackGated(g config.Group) bool {
	return !g.ActiveActive && slices.ContainsFunc(g.Resources, func(r config.Resource) bool { return r.Balancer != nil })
}

// feedReadiness tells the machine, whenever it changes, what each gated
// group's balancer can serve here: its healthy reals and whether the
// persistence table caught up with the owner's (ha: Failback readiness).
// The gated groups are those of the config at start, as the machine's;
// their services are the config's in force (a reload may change them).
// It runs until ctx ends.
func (n *Node) feedReadiness(ctx context.Context) {
	gated := map[string]bool{}
	for _, g := range n.config().Groups {
		if failbackGated(g) {
			gated[g.Name] = true
		}
	}
	if len(gated) == 0 {
		return // nothing to read: no balancer in an active-passive group
	}
	last := map[string]readinessReport{}
	every := time.Duration(0)
	t := time.NewTicker(readinessBackstop)
	defer t.Stop()
	for {
		cfg := n.config()
		// A reload may add or drop the sync's tables: pace for the config
		// in force.
		if d := readinessPace(cfg, gated, n.sync != nil); d != every {
			every = d
			t.Reset(d)
		}
		owners := map[string]string{}
		for _, g := range n.agent.Status().Groups {
			owners[g.Name] = g.Owner
		}
		snap := n.snapshot()
		for _, g := range cfg.Groups {
			if !gated[g.Name] {
				continue
			}
			r := n.readiness(cfg, g, snap, owners[g.Name])
			if old, ok := last[g.Name]; !ok || old != r {
				last[g.Name] = r
				n.agent.Readiness(g.Name, r.healthy, r.synced, r.behind)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.readinessPoke:
		}
	}
}

// pokeReadiness tells feedReadiness to read the readiness now: a real's
// health changed (the balancer's and the kernel services' OnHealth) or a
// reload changed the services. It never blocks; pokes while one is
// pending are one.
func (n *Node) pokeReadiness() {
	select {
	case n.readinessPoke <- struct{}{}:
	default:
	}
}

// readinessPace is how often feedReadiness reads the readiness of the
// gated groups under cfg: readinessEvery while one of them has services
// whose table the sync (haveSync) carries, whose progress nothing
// announces; readinessBackstop otherwise, the rest being poked.
func readinessPace(cfg *config.Config, gated map[string]bool, haveSync bool) time.Duration {
	if !haveSync {
		return readinessBackstop
	}
	for _, g := range cfg.Groups {
		if gated[g.Name] && syncedAmong(cfg, groupServices(g)) {
			return readinessEvery
		}
	}
	return readinessBackstop
}

// readiness is g's readiness here, owner holding it as the machine sees it.
func (n *Node) readiness(cfg *config.Config, g config.Group, snap *proxy.Snapshot, owner string) readinessReport {
	services := groupServices(g)
	r := readinessReport{healthy: healthyReals(snap, services), synced: true}
	if n.sync == nil || owner == "" || owner == n.self || !syncedAmong(cfg, services) {
		return r
	}
	if !n.sync.syncedFrom(owner) {
		r.synced, r.behind = false, fmt.Sprintf("no complete full resync from %s yet", owner)
	}
	return r
}

// groupServices lists the services g's balancer resources activate.
func groupServices(g config.Group) []string {
	var out []string
	for _, r := range g.Resources {
		if r.Balancer != nil {
			out = append(out, r.Balancer.Services...)
		}
	}
	return out
}

// healthyReals counts the reals of the named services that pass their
// checks here, in the primary or backup pool (not the fallback, the sorry
// server). Every node counts the same way, so the returning node's count
// compares with the owner's. A drained real (hactl real disable) counts:
// a drain is an operator's choice, not ill health, and as a weight-0 real
// of ipvsadm or ldirectord's quiescent real does not hold back a
// keepalived or Heartbeat switchover, a drain on one node must not make
// it "not ready" (review 12b, 3: refused standbys, a failback held back
// while the drain lasts). `hactl services` names a drain on one node only.
func healthyReals(snap *proxy.Snapshot, services []string) int {
	if snap == nil {
		return 0
	}
	n := 0
	for _, s := range snap.Services {
		if !slices.Contains(services, s.Name) {
			continue
		}
		for _, r := range s.Reals {
			if r.Pool != "fallback" && r.Healthy {
				n++
			}
		}
	}
	return n
}

// syncedAmong reports whether any of the named services has a table the
// persistence sync carries: client-IP persistence (userspace or kernel)
// or a dr service's flow table (syncedTables).
func syncedAmong(cfg *config.Config, services []string) bool {
	for _, s := range cfg.Services {
		if slices.Contains(services, s.Name) && len(syncedTables(s)) > 0 {
			return true
		}
	}
	return false
}

// gateConfig sets the machine's failback gate of one group.
func gateConfig(g config.Group, mg *ha.GroupConfig) {
	mg.FailbackGate = failbackGated(g)
	mg.FailbackMinHealthy = g.FailbackMinHealthy
}
