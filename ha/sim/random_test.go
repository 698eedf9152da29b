package sim

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
)

var (
	seedFlag  = flag.Int64("seed", -1, "replay one random schedule and print its trace")
	schedules = flag.Int("schedules", 10000, "how many random schedules TestRandom runs (TestRandomGated a tenth)")
)

// Timing of every random schedule (Heartbeat-like ratios).
const (
	keepalive = 100 * time.Millisecond
	deadtime  = 400 * time.Millisecond
	initdead  = time.Second
	hold      = time.Second
	// maxDelay is the largest one-way message delay of a schedule (each
	// draws its DelayMax from 1..maxDelay ms); invariant 7 depends on it.
	maxDelay = 5 * time.Millisecond
)

// TestRandom runs seeded random schedules of crashes, restarts, graceful
// stops, partitions, loss, commands and check failures against 2 and 3
// machines, and checks the invariants of DESIGN.md "Ownership rules" (see
// checker). A failure prints the seed; -seed=N replays it with a trace.
func TestRandom(t *testing.T) { testRandom(t, *schedules, false) }

// TestRandomGated runs schedules whose groups may have a failback gate
// (FailbackGate), whose nodes report 1 or 2 healthy reals at random, and
// checks invariant 8 besides the others. Its schedules have no one-way cuts
// (that step reports readiness instead): TestRandom covers one-way loss,
// which the gate does not act on.
func TestRandomGated(t *testing.T) { testRandom(t, max(*schedules/10, 1), true) }

func testRandom(t *testing.T, n int, gated bool) {
	if *seedFlag >= 0 {
		var trace strings.Builder
		err := runSchedule(uint64(*seedFlag), gated, &trace, &stats{})
		t.Logf("trace of seed %d:\n%s", *seedFlag, trace.String())
		if err != nil {
			t.Fatalf("seed %d: %v", *seedFlag, err)
		}
		return
	}
	workers := max(runtime.GOMAXPROCS(0), 1)
	var st stats
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := w; s < n; s += workers {
				if err := runSchedule(uint64(s), gated, nil, &st); err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("seed %d: %v\n  replay: go test ./ha/sim -run '%s$' -seed=%d -v", s, err, t.Name(), s))
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d schedules: %d settled checks (1); %d start decisions against a master (3), %d of them unheard by the starter, %d gated (8); %d isolated-node checks (6); %d one-way checks (7); %d stale heartbeats dropped; "+
		"expectations met/set: crash (2) %d/%d, failback (3) %d/%d, leave (4) %d/%d, heal (5) %d/%d, ready failback (8) %d/%d",
		n, st.settled.Load(), st.starts.Load(), st.unheard.Load(), st.gated.Load(), st.isolated.Load(), st.oneWay.Load(), st.stale.Load(),
		st.met[2].Load(), st.expected[2].Load(), st.met[3].Load(), st.expected[3].Load(),
		st.met[4].Load(), st.expected[4].Load(), st.met[5].Load(), st.expected[5].Load(), st.met[8].Load(), st.expected[8].Load())
	if len(failed) > 0 {
		slices.Sort(failed)
		t.Fatalf("%d worker(s) failed:\n%s", len(failed), strings.Join(failed, "\n"))
	}
}

// TestRandomSeeds replays schedules that once broke an invariant. Each must
// still reach the situation it was kept for (reached), so a change to the
// schedule generator that sends the seed elsewhere fails here instead of
// passing without testing anything; then pick the situation anew with
// -schedules and -seed.
func TestRandomSeeds(t *testing.T) {
	for _, r := range []struct {
		seed    uint64
		gated   bool
		why     string
		reached func(*stats) bool
	}{
		{14383, false, "(7) one-way lb3->lb2 with lb1 the successor: lb2 must say at once that lb3 is dead, or the handover ends past the bound",
			func(st *stats) bool { return st.oneWay.Load() > 0 }},
		// 29940 (lb2, up 532ms, heard lb1 release to lb3 before lb3's
		// claim) stopped reaching (3) when a starting node began to wait
		// for heartbeats that hear it (ha.allPeersHeard, generation 0 no
		// longer counts): its start now sees lb3's claim. 115 reaches (3)
		// by a heal instead.
		{115, false, "(3) after a heal lb3, which had not heard lb2's claim, takes g0 as unowned, then releases it to lb2 on hearing it: no preemption of a master it heard",
			func(st *stats) bool { return st.unheard.Load() > 0 }},
		// 32669 and 3163 below kept the first schedules of their kind
		// (lb3's heartbeat from before lb2's death reaching lb2 after its
		// first dead report; after a heal, lb2's stopping heartbeat
		// overtaken by its standby one); the wait for heartbeats that
		// hear a starting node moved both off their situation, and 8 and
		// 3 are the first seeds that reach the same checks now.
		{8, false, "(7) a one-way cut with stale heartbeats dropped: a heartbeat from before a death acted on would restart the wait and end the handover past the bound",
			func(st *stats) bool { return st.oneWay.Load() > 0 && st.stale.Load() > 0 }},
		{359, false, "(5) after the heal lb2, the loser, released g0 before lb1 heard it as master, and its stopping heartbeat was overtaken by its standby one: lb1 must re-announce on hearing lb2 again",
			func(st *stats) bool { return st.met[5].Load() > 0 && st.stale.Load() > 0 }},
		{3, true, "(5) a heal with stale heartbeats dropped (gated groups): the winner must re-announce once the loser no longer holds the group, whatever order its stopping and standby heartbeats arrive in",
			func(st *stats) bool { return st.met[5].Load() > 0 && st.stale.Load() > 0 }},
	} {
		t.Run(fmt.Sprintf("seed%d", r.seed), func(t *testing.T) {
			var st stats
			var trace strings.Builder
			if err := runSchedule(r.seed, r.gated, &trace, &st); err != nil {
				t.Fatalf("%s\n%v\ntrace:\n%s", r.why, err, trace.String())
			}
			if !r.reached(&st) {
				t.Fatalf("seed %d no longer reaches its situation: %s\ntrace:\n%s", r.seed, r.why, trace.String())
			}
		})
	}
}

// runSchedule builds a random cluster from seed, plays a random schedule and
// returns the first invariant violation. trace, if not nil, gets every action.
// With gated, groups may have a failback gate and one-way cuts become
// readiness changes (TestRandomGated).
func runSchedule(seed uint64, gated bool, trace *strings.Builder, st *stats) error {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	nodes := []string{"lb1", "lb2"}
	if rng.IntN(2) == 0 {
		nodes = append(nodes, "lb3")
	}
	var groups []ha.GroupConfig
	for i := range 1 + rng.IntN(2) {
		g := ha.GroupConfig{Name: fmt.Sprintf("g%d", i)}
		if rng.IntN(4) != 0 {
			g.Preferred = nodes[rng.IntN(len(nodes))]
		}
		if rng.IntN(3) == 0 {
			fb := rng.IntN(2) == 0
			g.AutoFailback = &fb
		}
		if gated {
			g.FailbackGate = rng.IntN(4) != 0
		}
		groups = append(groups, g)
	}
	cfg := ha.Config{Nodes: nodes, Keepalive: keepalive, Warntime: 250 * time.Millisecond, Deadtime: deadtime,
		Initdead: initdead, AutoFailback: rng.IntN(2) == 0, FailbackHold: hold, FailBackoff: time.Second,
		Groups: groups, Checks: []ha.CheckConfig{{Name: "ping", Weight: 150, Ping: true}}}
	c := New(Options{Config: cfg, Rand: rng,
		DelayMin: 0, DelayMax: time.Duration(1+rng.IntN(int(maxDelay/time.Millisecond))) * time.Millisecond,
		StartDelay: time.Duration(1+rng.IntN(20)) * time.Millisecond,
		StopDelay:  time.Duration(1+rng.IntN(20)) * time.Millisecond,
		Links:      1 + rng.IntN(2)})
	k := newChecker(c, cfg, st)
	k.gatedRun = gated
	if trace != nil {
		fmt.Fprintf(trace, "nodes=%v groups=%v failback=%v links=%d\n", nodes, groupString(groups), cfg.AutoFailback, c.Links())
		k.trace = trace
	}
	for _, n := range nodes {
		k.disturb("boot " + n)
		if err := c.Boot(n); err != nil {
			return err
		}
		k.reportReadiness(n)
		c.Run(time.Duration(rng.IntN(300)) * time.Millisecond)
	}
	k.run(1500 * time.Millisecond)
	for range 6 {
		if k.err != nil {
			break
		}
		k.randomStep(rng)
	}
	// Finally bring everything back and let it settle: one owner per group.
	k.disturb("heal, loss 0, boot all")
	c.Heal()
	c.SetLoss(0)
	for _, n := range nodes {
		if !c.Node(n).Up {
			c.Boot(n)
			k.reportReadiness(n)
		}
	}
	k.run(initdead + hold + time.Second)
	st.stale.Add(int64(c.Stale))
	if k.err == nil {
		for _, g := range groups {
			if o := c.Owners(g.Name); len(o) != 1 {
				k.fail("at the end, group %s has owners %v, want exactly one", g.Name, o)
			}
		}
	}
	return k.err
}

func (k *checker) randomStep(rng *rand.Rand) {
	c := k.c
	pick := func(up bool) string {
		var ns []string
		for _, n := range c.Names() {
			if c.Node(n).Up == up && !c.Node(n).shutdown {
				ns = append(ns, n)
			}
		}
		if len(ns) == 0 {
			return ""
		}
		return ns[rng.IntN(len(ns))]
	}
	dur := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	// onNode does act to a node that is up (or down), if any, then runs
	// between 100ms and hi.
	onNode := func(up bool, act func(string), hi time.Duration) {
		if n := pick(up); n != "" {
			act(n)
		}
		k.run(dur(100*time.Millisecond, hi))
	}
	group := k.cfg.Groups[rng.IntN(len(k.cfg.Groups))].Name
	step := rng.IntN(10)
	if step == 9 && k.gatedRun {
		step = 10
	}
	switch step {
	case 0: // quiet
		k.run(dur(200*time.Millisecond, 3*time.Second))
	case 1:
		onNode(true, k.crash, 2*time.Second)
	case 2:
		onNode(false, k.boot, 3*time.Second)
	case 3:
		onNode(true, k.leave, 2*time.Second)
	case 4:
		names := c.Names()
		a := names[rng.IntN(len(names))]
		if rng.IntN(2) == 0 {
			k.disturb("isolate " + a)
			c.Isolate(a)
		} else {
			b := names[rng.IntN(len(names))]
			if a == b {
				return
			}
			k.disturb("partition " + a + " " + b)
			c.Partition(a, b)
		}
		k.run(dur(100*time.Millisecond, 2*time.Second))
		k.heal()
		k.run(dur(100*time.Millisecond, 2*time.Second))
	case 5:
		p := float64(1+rng.IntN(30)) / 100
		k.disturb(fmt.Sprintf("loss %.2f", p))
		c.SetLoss(p)
		k.run(dur(200*time.Millisecond, 2*time.Second))
		k.disturb("loss 0")
		c.SetLoss(0)
		k.run(dur(100*time.Millisecond, time.Second))
	case 6:
		if n := pick(true); n != "" {
			kind := ha.EventStandby
			if rng.IntN(2) == 0 {
				kind = ha.EventTakeover
			}
			k.command(n, ha.Event{Kind: kind, Group: group})
		}
		k.run(dur(100*time.Millisecond, 2*time.Second))
	case 7:
		if n := pick(true); n != "" {
			k.check(n, rng.IntN(2) == 0)
		}
		k.run(dur(100*time.Millisecond, 2*time.Second))
	case 9: // one-way loss: a's heartbeats stop reaching b, on every link or on one
		names := c.Names()
		a, b := names[rng.IntN(len(names))], names[rng.IntN(len(names))]
		if a == b {
			return
		}
		k.cutOneWay(a, b, rng.IntN(3) != 0, rng.IntN(c.Links()))
		k.run(dur(100*time.Millisecond, 4*time.Second))
		k.heal()
		k.run(dur(100*time.Millisecond, 2*time.Second))
	case 10: // a node's reals fail or pass their checks (failback readiness)
		if n := pick(true); n != "" {
			k.setHealthy(n, group, 1+rng.IntN(fullHealthy))
		}
		k.run(dur(100*time.Millisecond, 3*time.Second))
	case 8: // crash and come back quickly: an unstable node
		if n := pick(true); n != "" {
			k.crash(n)
			k.run(dur(0, 500*time.Millisecond))
			k.boot(n)
		}
		k.run(dur(100*time.Millisecond, 2*time.Second))
	}
}

// groupString shows the groups of a schedule, with any auto_failback override.
func groupString(gs []ha.GroupConfig) string {
	var parts []string
	for _, g := range gs {
		p := fmt.Sprintf("%s(preferred=%q", g.Name, g.Preferred)
		if g.AutoFailback != nil {
			p += fmt.Sprintf(" failback=%v", *g.AutoFailback)
		}
		if g.FailbackGate {
			p += " gated"
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, " ")
}
