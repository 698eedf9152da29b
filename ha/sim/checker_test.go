package sim

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hapair/hapair/ha"
)

// checker watches a simulated cluster and records the first violation of
// these invariants. "Owns" means state Starting or Master (resources started
// or starting, not yet being released). "Clean" means no cut and no loss.
// Every boot, crash, leave, partition, heal, loss change, command and check
// change is a disturbance; the cluster is "settled" from D+2K after the
// latest disturbance (initdead+K after a boot, the wait DESIGN.md prescribes
// for a node that may find itself alone), K = keepalive, D = deadtime.
//
// The ping check is a ping node: a node whose ping failed and that has heard
// no peer for D "may be isolated" (the checker's own view, from the
// simulated network, not the machine's).
//
//  1. Clean and settled: every group has at least one owner (unless every up
//     node may be isolated), and any interval with two owners is shorter
//     than K (a planned handover: the new owner starts while the old one
//     stops).
//  2. When the sole owner crashes in a clean, settled cluster with a survivor
//     up, a survivor owns the group within D+K (unless disturbed again first,
//     or the only survivor has lost its ping node: it is isolated).
//  3. auto_failback=false (the group's own, else the cluster's): in a
//     network clean for D+2K, no node starts a group while another node is
//     master of it, unless a command was given for the group or the
//     master's check failed. auto_failback=true: a node that preempts a
//     master it has heard claim the group has been up, and at its
//     priority, for the hold time; and the preferred node, once back, owns
//     its group within hold+K. A node that has heard no claim takes an
//     ownerless group by rank at once (DESIGN.md: highest priority wins;
//     the hold gates taking a group back from its owner): during a
//     handover between two others it may hear the old owner release
//     before the new one's claim (three nodes, unequal delays), start, and
//     the two owners then resolve by rank (seed 29940, TestRandomSeeds).
//     No node can honour a hold against a claim it has not heard.
//  4. When the sole owner leaves on purpose (clean, settled), a survivor owns
//     the group within K (same exception as 2).
//  5. When a partition heals with two owners of a group and a clean network,
//     within 2K exactly one owner is left and it has announced the group
//     (ActionAnnounce, or ActionStart, whose VIP start sends gratuitous ARP).
//  6. Isolation (Heartbeat ipfail): a node that has lost its ping node and
//     heard no peer for D owns no group K later (time to finish a start it
//     began before and release), in any network.
//  7. One-way loss: when, in a settled cluster, a's messages stop reaching
//     b on every link while everything else still flows, every group has
//     exactly one owner from oneWayWithin after the cut for as long as it
//     lasts (b takes a's groups, a learns from b's heartbeats that b does
//     not hear it and steps aside). A cut on some links only leaves the
//     cluster connected ("clean"), so 1-5 apply to it unchanged. (Both a
//     and b up at the cut; not checked while every up node may be
//     isolated.)
//  8. Failback readiness (groups with FailbackGate): in a network clean
//     for D+2K, with no command, a node does not start a group under auto_failback
//     while a master whose check is fine has reported more healthy reals
//     (known to it for 2K) than the node has; and a preferred node that
//     reports every real healthy, with its check fine, owns its group
//     within hold+K, as in 3.
type checker struct {
	c     *Cluster
	cfg   ha.Config
	err   error
	trace *strings.Builder

	settleAt   time.Time
	cleanSince time.Time
	commanded  map[string]bool      // group -> a takeover/standby was given
	failedChk  map[string]bool      // node -> its ping check is failed
	failedAt   map[string]time.Time // node -> when its ping check last failed
	chkChanged map[string]time.Time // node -> last check change
	dualSince  map[string]time.Time
	announced  map[string][]stamp // group -> who announced or started it, when
	oneWay     string             // "a->b" while a one-way cut made in a settled cluster lasts
	oneWayAt   time.Time
	gatedRun   bool                 // TestRandomGated: readiness steps instead of one-way cuts
	healthy    map[string]int       // node/group -> healthy reals it reports (default fullHealthy)
	healthyAt  map[string]time.Time // node/group -> when it last reported a change (or booted)
	pending    []expectation
	stats      *stats
	owners     []string // scratch
}

// oneWayWithin is invariant 7's bound: D + 7K/4 + 4δ, δ the largest
// message delay, from the protocol's timers (ha/oneway.go):
//   - b last heard a at L <= cut and declares it dead at L+D, and says so at
//     once (a heartbeat on every death), arriving by L+D+δ;
//   - a steps aside on a report of b's arriving at least 3K/4 after that
//     first one. b sends at least every K, so one of its heartbeats leaves
//     in [L+D+3K/4+δ, L+D+7K/4+δ] and qualifies; it arrives by
//     L+D+7K/4+2δ (usually b's next regular heartbeat, by L+D+K+δ; later
//     only if b's own state changed meanwhile and pushed its schedule);
//   - a then advertises priority 0 (δ), the successor claims the group
//     (if it is not b, which claimed at L+D already) and a, once it hears
//     that claim (δ), releases.
//
// It relies on a acting only on b's newer heartbeats (ha/link's replay
// rule, which the simulation applies): an older one saying b hears a,
// delivered late after the first report, would restart a's 3K/4 wait
// (seed 32669).
//
// Before ha sent a heartbeat on a death, b told a only at its next regular
// heartbeat, up to K later, and the D+2K this bound used to be was missed by
// a few ms (seed 14383, TestRandomSeeds).
const oneWayWithin = deadtime + 7*keepalive/4 + 4*maxDelay

// stats count how often each invariant was actually exercised, so a run
// that checks nothing shows up in the log.
type stats struct {
	settled  atomic.Int64 // settled (1) checks
	isolated atomic.Int64 // (6) checks of a node that may be isolated
	oneWay   atomic.Int64 // (7) checks during a one-way cut
	expected [9]atomic.Int64
	met      [9]atomic.Int64
	gated    atomic.Int64 // (8) gated start decisions examined against a master
	starts   atomic.Int64 // (3) start decisions examined against a master
	unheard  atomic.Int64 // (3) of those, starts against a master the starter had not heard claim
	stale    atomic.Int64 // heartbeats dropped as older than one delivered before (Cluster.Stale)
}

type stamp struct {
	node string
	at   time.Time
}

type expectation struct {
	inv      int
	what     string
	deadline time.Time
	ok       func() bool
}

func newChecker(c *Cluster, cfg ha.Config, st *stats) *checker {
	k := &checker{c: c, cfg: cfg, stats: st, cleanSince: c.Now, commanded: map[string]bool{}, failedChk: map[string]bool{},
		failedAt: map[string]time.Time{}, chkChanged: map[string]time.Time{}, dualSince: map[string]time.Time{}, announced: map[string][]stamp{},
		healthy: map[string]int{}, healthyAt: map[string]time.Time{}}
	c.Observe = k.observe
	c.AfterEvent = k.afterEvent
	return k
}

func (k *checker) fail(format string, args ...any) {
	if k.err == nil {
		k.err = fmt.Errorf("at %v: %s", k.c.Elapsed(), fmt.Sprintf(format, args...))
	}
}

func (k *checker) tracef(format string, args ...any) {
	if k.trace != nil {
		fmt.Fprintf(k.trace, "%6dms ", k.c.Elapsed().Milliseconds())
		fmt.Fprintf(k.trace, format+"\n", args...)
	}
}

func (k *checker) clean() bool { return k.c.Connected() && k.c.loss == 0 }

func (k *checker) settled() bool { return k.clean() && !k.c.Now.Before(k.settleAt) }

// disturb records a disturbance and drops expectations it invalidates.
func (k *checker) disturb(what string) {
	k.tracef("--- %s", what)
	k.settleAt = later(k.settleAt, k.c.Now.Add(deadtime+2*keepalive))
	k.pending = nil
	k.oneWay = ""
}

// cutOneWay drops a's messages to b on every link (all) or on one random
// link; (7) watches a full one-way cut made in a settled cluster.
func (k *checker) cutOneWay(a, b string, all bool, link int) {
	settled := k.settled()
	if all {
		k.disturb(fmt.Sprintf("one-way %s->%s on every link", a, b))
		k.c.Cut(a, b)
	} else {
		k.disturb(fmt.Sprintf("one-way %s->%s on link %d", a, b, link))
		k.c.CutLink(link, a, b)
	}
	if all && settled && k.c.loss == 0 && k.c.Node(a).Up && k.c.Node(b).Up {
		k.oneWay, k.oneWayAt = a+"->"+b, k.c.Now
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (k *checker) expect(inv int, what string, within time.Duration, ok func() bool) {
	k.tracef("expect within %v: %s", within, what)
	k.stats.expected[inv].Add(1)
	k.pending = append(k.pending, expectation{inv: inv, what: what, deadline: k.c.Now.Add(within), ok: ok})
}

func (k *checker) run(d time.Duration) {
	if k.err == nil {
		k.c.Run(d)
		k.afterEvent()
	}
}

func (k *checker) survivorOwns(g, gone string) func() bool {
	return func() bool {
		for _, o := range k.c.Owners(g) {
			if o != gone {
				return true
			}
		}
		return false
	}
}

// failback is the group's auto_failback: its override or the cluster's.
func (k *checker) failback(group string) bool {
	for _, g := range k.cfg.Groups {
		if g.Name == group && g.AutoFailback != nil {
			return *g.AutoFailback
		}
	}
	return k.cfg.AutoFailback
}

// isolatedSince returns since when node n may be isolated: its ping failed
// and no peer's heartbeat reached it for deadtime. ok is false if it is not.
func (k *checker) isolatedSince(nd *Node) (time.Time, bool) {
	n := nd.Name
	if !nd.Up || !k.failedChk[n] {
		return time.Time{}, false
	}
	deaf := nd.Heard.Add(deadtime)
	if k.c.Now.Before(deaf) {
		return time.Time{}, false
	}
	return later(deaf, k.failedAt[n]), true
}

// soleOwnerWithSurvivor lists the groups n alone owns, in a settled cluster
// where a survivor will take them: two or more survivors (they hear each
// other) or one whose ping node answers (it will not be isolated).
func (k *checker) soleOwnerWithSurvivor(n string) []string {
	if !k.settled() {
		return nil
	}
	survivors, pingOK := 0, false
	for _, m := range k.c.Names() {
		if m != n && k.c.Node(m).Up && !k.c.Node(m).shutdown {
			survivors++
			pingOK = pingOK || !k.failedChk[m]
		}
	}
	survivor := survivors >= 2 || pingOK
	var gs []string
	for _, g := range k.cfg.Groups {
		if o := k.c.Owners(g.Name); survivor && len(o) == 1 && o[0] == n {
			gs = append(gs, g.Name)
		}
	}
	return gs
}

func (k *checker) crash(n string) {
	gs := k.soleOwnerWithSurvivor(n)
	k.disturb("crash " + n)
	k.c.Kill(n)
	for _, g := range gs {
		k.expect(2, fmt.Sprintf("(2) a survivor owns %s after its owner %s crashed", g, n), deadtime+keepalive, k.survivorOwns(g, n))
	}
}

func (k *checker) leave(n string) {
	gs := k.soleOwnerWithSurvivor(n)
	k.disturb("leave " + n)
	k.c.Leave(n)
	for _, g := range gs {
		k.expect(4, fmt.Sprintf("(4) a survivor owns %s after its owner %s left", g, n), keepalive, k.survivorOwns(g, n))
	}
}

func (k *checker) boot(n string) {
	k.disturb("boot " + n)
	k.settleAt = later(k.settleAt, k.c.Now.Add(initdead+keepalive))
	k.failedChk[n] = false
	k.chkChanged[n] = time.Time{}
	if err := k.c.Boot(n); err != nil {
		k.fail("boot %s: %v", n, err)
		return
	}
	k.reportReadiness(n)
	if !k.clean() {
		return
	}
	for _, g := range k.cfg.Groups {
		if g.Preferred == n && !k.commanded[g.Name] && k.failback(g.Name) && (!g.FailbackGate || k.healthyOf(n, g.Name) == fullHealthy) {
			name := g.Name
			k.expect(3, fmt.Sprintf("(3) auto_failback: preferred %s owns %s after the hold", n, name), hold+keepalive,
				func() bool { return k.c.Node(n).Up && k.c.Node(n).M.State(name).Owns() })
		}
	}
}

func (k *checker) heal() {
	var duals []string
	if k.c.loss == 0 {
		for _, g := range k.cfg.Groups {
			if len(k.c.Owners(g.Name)) >= 2 {
				duals = append(duals, g.Name)
			}
		}
	}
	k.disturb("heal")
	k.c.Heal()
	k.cleanSince = k.c.Now
	healAt := k.c.Now
	for _, g := range duals {
		k.expect(5, fmt.Sprintf("(5) one owner of %s left after the heal, and it announced", g), 2*keepalive, func() bool {
			o := k.c.Owners(g)
			if len(o) != 1 {
				return false
			}
			return slices.ContainsFunc(k.announced[g], func(s stamp) bool { return s.node == o[0] && !s.at.Before(healAt) })
		})
	}
}

func (k *checker) command(n string, ev ha.Event) {
	k.disturb(fmt.Sprintf("%s %s on %s", ev.Kind, ev.Group, n))
	k.commanded[ev.Group] = true
	k.c.Inject(n, ev)
}

func (k *checker) check(n string, ok bool) {
	k.disturb(fmt.Sprintf("check ping on %s ok=%v", n, ok))
	if k.failedChk[n] != !ok {
		k.chkChanged[n] = k.c.Now
		if !ok {
			k.failedAt[n] = k.c.Now
		}
	}
	k.failedChk[n] = !ok
	k.c.Inject(n, ha.Event{Kind: ha.EventCheck, Check: "ping", OK: ok, Reason: "simulated"})
}

// observe sees every action as it is returned: invariant 3 is about the
// moment a node decides to start.
func (k *checker) observe(at time.Time, node string, a ha.Action) {
	switch a.Kind {
	case ha.ActionSend, ha.ActionArmTimer:
		return
	case ha.ActionAnnounce, ha.ActionStart:
		k.announced[a.Group] = append(k.announced[a.Group], stamp{node, at})
	}
	k.tracef("%s %s", node, a)
	if a.Kind != ha.ActionNotify || a.State != ha.StateStarting || k.commanded[a.Group] {
		return
	}
	cleanFor := at.Sub(k.cleanSince)
	if !k.clean() {
		return
	}
	for _, y := range k.c.Names() {
		ny := k.c.Node(y)
		if y == node || !ny.Up || ny.M.State(a.Group) != ha.StateMaster {
			continue
		}
		x := k.c.Node(node)
		k.stats.starts.Add(1)
		if cleanFor >= deadtime+2*keepalive {
			k.checkGated(node, y, a) // views have converged: a start now is a failback, not a stale "no owner"
		}
		if !k.failback(a.Group) && cleanFor >= deadtime+2*keepalive && !k.failedChk[y] {
			k.fail("(3) auto_failback off: %s starts %s while %s is master (not degraded, no command): %s", node, a.Group, y, a.Reason)
		}
		heard := heardClaim(x, y, a.Group)
		if !heard {
			k.stats.unheard.Add(1)
		}
		if k.failback(a.Group) && !k.cleanSince.After(x.UpSince) && heard {
			if up := at.Sub(x.UpSince); up < hold {
				k.fail("(3) auto_failback: %s preempts %s for %s after only %v up (hold %v): %s", node, y, a.Group, up, hold, a.Reason)
			}
			if ch := at.Sub(k.chkChanged[node]); !k.chkChanged[node].IsZero() && ch < hold {
				k.fail("(3) auto_failback: %s preempts %s for %s %v after its priority changed (hold %v): %s", node, y, a.Group, ch, hold, a.Reason)
			}
		}
	}
}

// heardClaim reports whether x's machine, as far as the heartbeats
// delivered to it show, knows that y holds group: y is alive to it and y's
// latest heartbeat says Starting or Master.
func heardClaim(x *Node, y, group string) bool {
	msg := x.Latest[y]
	if msg == nil || !slices.ContainsFunc(x.M.Status().Peers, func(p ha.PeerStatus) bool { return p.Name == y && p.Alive }) {
		return false
	}
	return slices.ContainsFunc(msg.Groups, func(gs ha.GroupState) bool { return gs.Name == group && gs.State.Owns() })
}

// fullHealthy is every real of a group healthy, in the simulation.
const fullHealthy = 2

func (k *checker) gated(group string) bool {
	for _, g := range k.cfg.Groups {
		if g.Name == group {
			return g.FailbackGate
		}
	}
	return false
}

func (k *checker) healthyOf(n, group string) int {
	if h, ok := k.healthy[n+"/"+group]; ok {
		return h
	}
	return fullHealthy
}

// reportReadiness tells a node just booted what its gated groups' balancers
// can serve (a node's caller reports at start).
func (k *checker) reportReadiness(n string) {
	for _, g := range k.cfg.Groups {
		if g.FailbackGate {
			k.healthyAt[n+"/"+g.Name] = k.c.Now
			k.c.Inject(n, ha.Event{Kind: ha.EventReadiness, Group: g.Name, Healthy: k.healthyOf(n, g.Name), OK: true})
		}
	}
}

// setHealthy changes what n reports of group's healthy reals, and expects
// (8) the preferred node, once it reports them all, to take its group back.
func (k *checker) setHealthy(n, group string, h int) {
	k.disturb(fmt.Sprintf("readiness %s %s healthy=%d", n, group, h))
	k.healthy[n+"/"+group], k.healthyAt[n+"/"+group] = h, k.c.Now
	k.c.Inject(n, ha.Event{Kind: ha.EventReadiness, Group: group, Healthy: h, OK: true})
	for _, g := range k.cfg.Groups {
		if g.Name == group && g.Preferred == n && h == fullHealthy && k.c.Node(n).Up && k.clean() &&
			!k.commanded[group] && k.failback(group) && !k.failedChk[n] {
			k.expect(8, fmt.Sprintf("(8) preferred %s owns %s once its reals are healthy", n, group), hold+keepalive,
				func() bool { return k.c.Node(n).Up && k.c.Node(n).M.State(group).Owns() })
		}
	}
}

// checkGated is invariant 8 for node starting a group y is master of.
func (k *checker) checkGated(node, y string, a ha.Action) {
	g := a.Group
	if !k.failback(g) || !k.gated(g) || k.failedChk[y] {
		return
	}
	if known := k.healthyAt[y+"/"+g]; !known.IsZero() && k.c.Now.Sub(known) < 2*keepalive {
		return // the node may not have heard y's count yet
	}
	k.stats.gated.Add(1)
	if h, hy := k.healthyOf(node, g), k.healthyOf(y, g); h < hy {
		k.fail("(8) failback readiness: %s starts %s with %d healthy reals while master %s has %d: %s", node, g, h, y, hy, a.Reason)
	}
}

func (k *checker) afterEvent() {
	now := k.c.Now
	if !k.clean() {
		k.cleanSince = now
	}
	anyUp, allIsolated := false, true
	for _, n := range k.c.names {
		nd := k.c.nodes[n]
		if !nd.Up {
			continue
		}
		since, iso := k.isolatedSince(nd)
		if !nd.shutdown {
			anyUp, allIsolated = true, allIsolated && iso
		}
		if !iso || now.Sub(since) < keepalive {
			continue
		}
		k.stats.isolated.Add(1)
		for _, g := range k.cfg.Groups {
			if s := nd.M.State(g.Name); s.Owns() {
				k.fail("(6) %s lost its ping node at %v and heard no peer since %v, but is %s of %s", n,
					k.failedAt[n].Sub(k.c.opts.Start), nd.Heard.Sub(k.c.opts.Start), s, g.Name)
			}
		}
	}
	for _, g := range k.cfg.Groups {
		o := k.owners[:0]
		for _, n := range k.c.names {
			if nd := k.c.nodes[n]; nd.Up && nd.M.State(g.Name).Owns() {
				o = append(o, n)
			}
		}
		k.owners = o
		if len(o) < 2 {
			delete(k.dualSince, g.Name)
		} else if _, ok := k.dualSince[g.Name]; !ok {
			k.dualSince[g.Name] = now
		}
		if !k.settled() || !anyUp {
			continue
		}
		k.stats.settled.Add(1)
		if len(o) == 0 && !allIsolated {
			k.fail("(1) settled and clean, but group %s has no owner", g.Name)
		}
		if d, ok := k.dualSince[g.Name]; ok && now.Sub(d) >= keepalive {
			k.fail("(1) settled and clean, but group %s has owners %v for %v", g.Name, o, now.Sub(d))
		}
	}
	if k.oneWay != "" && now.Sub(k.oneWayAt) >= oneWayWithin && !allIsolated {
		k.stats.oneWay.Add(1)
		for _, g := range k.cfg.Groups {
			if o := k.c.Owners(g.Name); len(o) != 1 {
				k.fail("(7) one-way %s since %v: group %s has owners %v, want exactly one", k.oneWay, k.oneWayAt.Sub(k.c.opts.Start), g.Name, o)
			}
		}
	}
	kept := k.pending[:0]
	for _, e := range k.pending {
		switch {
		case e.ok():
			k.stats.met[e.inv].Add(1)
		case now.After(e.deadline):
			k.fail("%s: not true by its deadline %v", e.what, e.deadline.Sub(k.c.opts.Start))
		default:
			kept = append(kept, e)
		}
	}
	k.pending = kept
}
