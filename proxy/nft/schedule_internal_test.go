package nft

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/google/nftables/expr"
)

// A packet the service chain returns undirected (only across a commit,
// see addHookRules) is caught in the hook chain by an unconditional goto
// to the chain of a real schedulable under the same rules, or the
// fallback's with none; a slot-map lookup that misses leaves the service
// chain for it, so it is the chain's last rule.
// Checked over every health state of three reals, each scheduler and
// both methods, with and without a fallback.
func TestSchedulingMissCaught(t *testing.T) {
	states := []struct {
		weight int
		down   bool
	}{{1, false}, {3, false}, {0, false}, {2, true}}
	for _, method := range []string{"nat", "dr"} {
		for _, scheduler := range []string{"rr", "wrr", "sh"} {
			for _, fallback := range []bool{false, true} {
				for code := range len(states) * len(states) * len(states) {
					s := catchService(method, scheduler, fallback)
					for i := range s.Reals {
						st := states[code%len(states)]
						code /= len(states)
						s.Reals[i].Weight, s.Reals[i].Down = st.weight, st.down
					}
					name := fmt.Sprintf("%s/%s/fallback=%v/%+v", method, scheduler, fallback, s.Reals)
					checkCatch(t, name, s)
				}
			}
		}
	}
}

func catchService(method, scheduler string, fallback bool) Service {
	s := Service{Name: "web", Protocol: "tcp", VIP: netip.MustParseAddrPort("198.18.0.100:80"), Scheduler: scheduler}
	port := uint16(8080)
	if method == "dr" {
		s.Method, s.Ingress, port = MethodDR, "eth0", 80
	} else {
		s.Method = MethodNAT
	}
	mk := func(i byte) Real {
		r := Real{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, 20 + i}), port)}
		if method == "dr" {
			r.Link, r.LinkIndex = "eth0", 2
			r.LinkMAC = net.HardwareAddr{2, 0, 0, 0, 0, 11}
			r.MAC = net.HardwareAddr{2, 0, 0, 0, 0, 20 + i}
		}
		return r
	}
	s.Reals = []Real{mk(1), mk(2), mk(3)}
	if fallback {
		fb := mk(9)
		s.Fallback = &fb
	}
	return s
}

func checkCatch(t *testing.T, name string, s Service) {
	t.Helper()
	ip, netdev, err := build([]Service{s})
	if err != nil {
		t.Fatalf("%s: build: %v", name, err)
	}
	tbl := ip
	if s.Method == MethodDR {
		tbl = netdev
	}
	rules := chainNamed(tbl, svcChain(&s)).rules
	schedulable := map[string]bool{}
	for _, r := range s.Reals {
		if r.schedulable() {
			schedulable[realChain(&s, r)] = true
		}
	}
	lookups := 0
	for i, r := range rules {
		if !isSlotLookup(r) {
			continue
		}
		lookups++
		// Nothing after it: a miss leaves the chain for the hook's catch
		// (a rule after it, such as the fallback's goto, would take it).
		if i+1 != len(rules) {
			t.Errorf("%s: the slot lookup is followed by %v, want it last", name, rules[i+1:])
		}
	}
	want := 0
	if len(schedulable) > 0 {
		want = 1
	}
	if lookups != want {
		t.Errorf("%s: %d slot lookups, want %d (%d schedulable reals)", name, lookups, want, len(schedulable))
	}
	// The hook chains catch a packet the service chain returns undirected:
	// a goto to a schedulable real's chain, or the fallback's without one.
	catchable := schedulable
	if len(schedulable) == 0 && s.Fallback != nil {
		catchable = map[string]bool{realChain(&s, *s.Fallback): true}
	}
	hooks := []string{"prerouting", "output"}
	if s.Method == MethodDR {
		hooks = []string{ingressChain(s.Ingress)}
	}
	for _, h := range hooks {
		rules := chainNamed(tbl, h).rules
		if len(rules) == 0 {
			t.Fatalf("%s: hook chain %s has no rule", name, h)
		}
		last, _ := rules[len(rules)-1][len(rules[len(rules)-1])-1].(*expr.Verdict)
		switch {
		case len(catchable) == 0 && (len(rules) != 1 || last == nil || last.Kind != expr.VerdictJump):
			t.Errorf("%s: %s ends in %v, want only the jump to the service chain (no real, no fallback)", name, h, last)
		case len(catchable) > 0 && (len(rules) != 2 || last == nil || last.Kind != expr.VerdictGoto || !catchable[last.Chain]):
			t.Errorf("%s: %s has %d rules ending in %v, want the jump then a goto to one of %v", name, h, len(rules), last, catchable)
		}
	}
}

func isSlotLookup(r []expr.Any) bool {
	for _, e := range r {
		if l, ok := e.(*expr.Lookup); ok && l.IsDestRegSet {
			return true
		}
	}
	return false
}
