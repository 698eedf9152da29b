package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// TestPartitions: random partition and heal cycles. Without ping nodes a
// cut of both links leaves both nodes owning (two nodes cannot tell a dead
// peer from a lost link) and a cut of one link changes nothing; with a
// ping node (backend1), the node cut from everything (Isolate) holds
// nothing and its peer keeps the group. After every heal: one owner within
// two keepalives, and the client's neighbour entry for the VIP names it.
func TestPartitions(t *testing.T) {
	sc, r := setup(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	for _, ping := range []bool{false, true} {
		name := "no ping node"
		o := pairOpts{keepalive: 100 * time.Millisecond}
		if ping {
			name, o.ping = "ping node backend1", "198.18.0.21"
		}
		t.Run(name, func(t *testing.T) {
			p := newPair(t, o)
			var heals, healsUpper []time.Duration
			bad, neighBad, slow := 0, 0, 0
			var trace strings.Builder
			for i := range sc.partitions / 2 {
				kind := rng.IntN(2) // 0: every link (or isolate with a ping node), 1: one link
				hold := o.deadtime()/2 + time.Duration(rng.Int64N(int64(3*o.deadtime())))
				// A cycle starts from one owner. The pair's start waited
				// for lb1 alone, but a heartbeat stall right after it (CI:
				// lb1 found lb2 silent for 400 ms within a second of the
				// start, then heard it again and re-announced) can leave
				// two holders or none for a moment.
				var before string
				var notYet error
				settle, err := lab.WaitFor(10*time.Second, func() error {
					var err error
					if before, err = p.owner(); err != nil && notYet == nil {
						notYet = err
					}
					return err
				})
				if err != nil {
					t.Fatalf("cycle %d: no sole owner before the partition: %v", i, err)
				}
				if notYet != nil {
					fmt.Fprintf(&trace, "cycle %d: waited %v for a sole owner before the partition (%v)\n", i, settle, notYet)
				}
				// The client knows the VIP at the owner (as after real
				// traffic): gratuitous ARP updates an entry, it does not
				// create one (arp_accept 0).
				pointClient(t, p, before)
				switch {
				case kind == 1:
					p.lab.PartitionLink("lb1", "lb2", "eth1")
				case ping:
					p.lab.Isolate([]string{"lb1", "lb2"}[rng.IntN(2)])
				default:
					p.lab.Partition("lb1", "lb2")
				}
				time.Sleep(hold) // the partition's random length: the fault itself, not a wait
				hs := p.holders()
				ok := partitionOK(kind, ping, hold, o, before, hs)
				fmt.Fprintf(&trace, "cycle %d: kind %d, %v, owner before %s, holders at the end %v ok=%v\n", i, kind, hold, before, hs, ok)
				if !ok {
					bad++
					t.Errorf("cycle %d: partition kind %d for %v: holders %v (owner before %s)", i, kind, hold, hs, before)
				}
				if len(hs) == 2 {
					// Split brain: point the client at lb2, so only the
					// winner's re-announce after the heal brings it back.
					pointClient(t, p, "lb2")
				}
				// The heal is timed on had's clock (its log lines; the lab's
				// hosts share the machine's clock with the test) from the
				// last cut rule's removal: its nft command began at
				// healed.Began and had ended at healed.Done, so the heal's
				// true instant lies in between. Measured from Done the figure
				// leaves out the test's own nft command (seen taking 280 ms
				// on a busy host, during which one direction of a split
				// brain was healed 400 ms before the other); from Began it
				// counts it. The bound is judged on the first, both are
				// shown.
				began := time.Now()
				healed := p.lab.Heal()
				removal := time.Since(began)
				var owner string
				polled, err := lab.WaitFor(10*time.Second, func() error {
					var err error
					owner, err = p.owner()
					return err
				})
				if err != nil {
					t.Fatalf("cycle %d: no single owner after the heal: %v", i, err)
				}
				// The owner must stay the one found: a second look that sees
				// another holder set is a flap after the heal.
				if now, err := p.owner(); err != nil || now != owner {
					t.Errorf("cycle %d: %s owned the VIP after the heal, then %q (%v)", i, owner, now, err)
				}
				mac := p.lab.Host(owner).MAC("eth0").String()
				if _, err := lab.WaitFor(3*time.Second, func() error {
					got, err := p.lab.NeighMAC("client", vip)
					if err != nil || got.String() != mac {
						return fmt.Errorf("client neighbour entry %v, want %s's %s (%v)", got, owner, mac, err)
					}
					return nil
				}); err != nil {
					neighBad++
					t.Errorf("cycle %d: %v", i, err)
				}
				// Settle before the next cut: both nodes hear each other.
				if _, err := lab.WaitFor(5*time.Second, func() error { return bothAlive(p) }); err != nil {
					t.Fatalf("cycle %d: %v", i, err)
				}
				// One owner: the last state change after the heal leaves
				// exactly one master, the one the polling found. Two
				// keepalives: a heartbeat each way, then the release.
				logs := map[string]string{"lb1": p.output("lb1"), "lb2": p.output("lb2")}
				took, masters := settled(logs, healed.Done)
				upper, _ := settled(logs, healed.Began)
				heals = append(heals, took)
				healsUpper = append(healsUpper, upper)
				if len(masters) != 1 || masters[0] != owner {
					t.Errorf("cycle %d: had's logs end with masters %v after the heal, the VIP is on %s", i, masters, owner)
				}
				if took > 2*o.keepalive {
					slow++
					t.Errorf("cycle %d: one owner %v after the last cut rule was gone by had's logs (%v after its removal began), want within %v", i, took, upper, 2*o.keepalive)
				}
				fmt.Fprintf(&trace, "  healed: one owner %s, last state change %v after the last cut rule was gone, %v after its removal began, by had's logs (Heal took %v in all, the last rule's nft ran from %v to %v; polling ip saw one holder %v after Heal)\n",
					owner, took, upper, removal, healed.Began.Sub(began), healed.Done.Sub(began), polled)
			}
			setting := fmt.Sprintf("%s, %d cycles, keepalive %v, deadtime %v", name, sc.partitions/2, o.keepalive, o.deadtime())
			r.row("partitions", "hapair", setting, "cycles with holders against the rules", fmt.Sprint(bad), verdict(bad == 0))
			r.row("partitions", "hapair", setting, "one owner after heal (last state change by had's logs, from when the last cut rule was gone; bound 2×keepalive)", quantiles(heals), verdict(slow == 0))
			r.row("partitions", "hapair", setting, "one owner after heal, counting the test's own removal of the last rule (from when its nft command began)", quantiles(healsUpper), "-")
			r.row("partitions", "hapair", setting, "client neighbour entry not on the owner", fmt.Sprint(neighBad), verdict(neighBad == 0))
			tag := map[bool]string{false: "noping", true: "ping"}[ping]
			r.log(t, "partitions-"+tag+".txt", trace.String())
			r.log(t, "partitions-"+tag+"-lb1.log", p.output("lb1"))
			r.log(t, "partitions-"+tag+"-lb2.log", p.output("lb2"))
		})
	}
}

// partitionOK says whether the holders at the end of a partition follow
// the ownership rules. Shorter than deadtime+2K, the owner may not have
// been declared dead yet: any one or two holders are fine then.
func partitionOK(kind int, ping bool, hold time.Duration, o pairOpts, before string, hs []string) bool {
	switch {
	case kind == 1: // one link left: nothing changes
		return len(hs) == 1 && hs[0] == before
	case hold < o.deadtime()+2*o.keepalive:
		return len(hs) >= 1
	case ping: // the isolated node holds nothing, its peer holds the group
		return len(hs) == 1
	default: // no ping node: both own
		return len(hs) == 2
	}
}

// pointClient sets the client's neighbour entry for the VIP to node's MAC.
func pointClient(t *testing.T, p *pair, node string) {
	t.Helper()
	mac := p.lab.Host(node).MAC("eth0").String()
	if out, err := p.lab.Host("client").RunFor(5*time.Second, "ip", "neigh", "replace", vip.String(), "lladdr", mac, "dev", "eth0", "nud", "stale"); err != nil {
		t.Fatalf("pointing the client at %s: %v: %s", node, err, out)
	}
}

func bothAlive(p *pair) error {
	for _, n := range []string{"lb1", "lb2"} {
		st, err := p.status(n)
		if err != nil {
			return err
		}
		for _, ps := range st.Peers {
			if !ps.Alive {
				return fmt.Errorf("%s: peer %s not alive", n, ps.Name)
			}
		}
	}
	return nil
}
