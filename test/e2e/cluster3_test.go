package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// Three nodes, active/passive, preferred = ["lb1", "lb2", "lb3"] with
// auto_failback: status shows every peer with every link and the
// preference's priorities; the group moves down the list on each crash and
// back up as the better nodes return; a partitioned standby that takes the
// group (it cannot tell) gives it back when the partition heals.
func TestThreeNodes(t *testing.T) {
	p := newPair(t, scenario.ThreeNodes)
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		p.start(n)
	}
	p.waitOwner("lb1", 10*time.Second)
	lab.Eventually(t, 5*time.Second, "lb1's status shows lb2 and lb3 alive on both links, and the priorities", func() error {
		out, err := p.lab.Host("lb1").Hactl(p.bins, "status", "-o", "json")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		var st struct {
			Peers []struct {
				Name  string          `json:"name"`
				Alive bool            `json:"alive"`
				Links map[string]bool `json:"links"`
			} `json:"peers"`
			Groups []struct {
				Priorities []struct {
					Node     string `json:"node"`
					Priority int    `json:"priority"`
				} `json:"priorities"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(out, &st); err != nil {
			return err
		}
		var got []string
		for _, pr := range st.Peers {
			got = append(got, fmt.Sprintf("%s alive=%v links=%d", pr.Name, pr.Alive, upLinks(pr.Links)))
		}
		if want := "lb2 alive=true links=2,lb3 alive=true links=2"; strings.Join(got, ",") != want {
			return fmt.Errorf("peers %q, want %q", got, want)
		}
		if len(st.Groups) != 1 || fmt.Sprint(st.Groups[0].Priorities) != "[{lb1 200} {lb2 199} {lb3 198}]" {
			return fmt.Errorf("group priorities %+v", st.Groups)
		}
		return nil
	})
	text, err := p.lab.Host("lb1").Hactl(p.bins, "status")
	if err != nil || !strings.Contains(string(text), "lb1=200>lb2=199>lb3=198") {
		t.Errorf("hactl status = %v\n%s\nwant the preference lb1=200>lb2=199>lb3=198", err, text)
	}

	// Down the list: each crash hands the group to the next node.
	p.crashOwner("lb1")
	t.Logf("lb1 crashed: lb2 holds after %v", p.waitHolds("lb2", 5*time.Second).Round(time.Millisecond))
	p.crashOwner("lb2")
	t.Logf("lb2 crashed: lb3 holds after %v", p.waitHolds("lb3", 5*time.Second).Round(time.Millisecond))

	// Back up the list as they return (auto_failback after the hold).
	p.lab.Plug("lb2")
	p.start("lb2")
	t.Logf("lb2 back: it holds again after %v", p.waitOwner("lb2", 10*time.Second).Round(time.Millisecond))
	p.lab.Plug("lb1")
	p.start("lb1")
	t.Logf("lb1 back: it holds again after %v", p.waitOwner("lb1", 10*time.Second).Round(time.Millisecond))

	// A partitioned standby: lb3 alone on its side takes the group; once
	// healed, lb1 remains the only owner.
	p.lab.Isolate("lb3")
	p.waitHolds("lb3", 5*time.Second)
	p.lab.Heal()
	t.Logf("lb3 partitioned then healed: lb1 alone holds after %v", p.waitOwner("lb1", 5*time.Second).Round(time.Millisecond))
}

func upLinks(links map[string]bool) int {
	n := 0
	for _, up := range links {
		if up {
			n++
		}
	}
	return n
}

// TestThreeNodesGroups: three groups, each preferring another node first
// (web lb1>lb2>lb3, api lb2>lb3>lb1, db lb3>lb1>lb2): each starts on its
// first node; a crash moves only the crashed node's group, to the next
// live node of its list; a partition of the node holding two groups gives
// both sides every group they cannot see held (no quorum, as Heartbeat
// without a quorum plugin), and the heal leaves one holder per group, the
// best live one; the crashed node's return takes its group back
// (auto_failback) and leaves the others where they are.
func TestThreeNodesGroups(t *testing.T) {
	p := newPair(t, scenario.ThreeGroups)
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		p.start(n)
	}
	want := func(what string, timeout time.Duration, holders map[string]string) time.Duration {
		t.Helper()
		return lab.Eventually(t, timeout, what, func() error { return p.groupsHeld(holders) })
	}
	want("each group on its first node", 10*time.Second, map[string]string{"web": "lb1", "api": "lb2", "db": "lb3"})
	text, err := p.lab.Host("lb3").Hactl(p.bins, "status")
	for _, pref := range []string{"lb1=200>lb2=199>lb3=198", "lb2=200>lb3=199>lb1=198", "lb3=200>lb1=199>lb2=198"} {
		if err != nil || !strings.Contains(string(text), pref) {
			t.Errorf("hactl status on lb3 = %v\n%s\nwant the preference %s", err, text, pref)
		}
	}

	p.crashOwner("lb2")
	t.Logf("lb2 crashed: api on lb3 after %v, web and db stayed", want("api moves to lb3, the others stay", 5*time.Second,
		map[string]string{"web": "lb1", "api": "lb3", "db": "lb3"}).Round(time.Millisecond))

	// lb3, holding api and db, is cut off: each side holds what it
	// cannot see held; once healed, one holder each again.
	p.lab.Isolate("lb3")
	lab.Eventually(t, 5*time.Second, "both sides hold every group", func() error {
		for _, g := range []struct{ node, group string }{{"lb1", "api"}, {"lb1", "db"}, {"lb3", "web"}} {
			if err := p.holds(g.node, g.group); err != nil {
				return err
			}
		}
		return nil
	})
	p.lab.Heal()
	t.Logf("lb3 partitioned then healed: one holder per group after %v", want("web on lb1, api and db on lb3 after the heal", 10*time.Second,
		map[string]string{"web": "lb1", "api": "lb3", "db": "lb3"}).Round(time.Millisecond))

	p.lab.Plug("lb2")
	p.start("lb2")
	t.Logf("lb2 back: api on lb2 after %v", want("api back on lb2, the others stay", 10*time.Second,
		map[string]string{"web": "lb1", "api": "lb2", "db": "lb3"}).Round(time.Millisecond))
}

// groupVIPs are the VIPs of scenario.ThreeGroups' groups.
var groupVIPs = map[string]netip.Addr{"web": vip, "api": netip.MustParseAddr("198.18.0.101"), "db": netip.MustParseAddr("198.18.0.102")}

// holds is nil when node has group's VIP and says it is its master.
func (p *pair) holds(node, group string) error {
	if ok, err := p.lab.HasAddr(node, groupVIPs[group]); err != nil || !ok {
		return fmt.Errorf("%s's VIP %v on %s: %v %v", group, groupVIPs[group], node, ok, err)
	}
	return p.master(node, group)
}

// groupsHeld is nil when each group of holders is held by its node alone
// among the running nodes (a crashed, unplugged node keeps stale copies).
func (p *pair) groupsHeld(holders map[string]string) error {
	for group, node := range holders {
		if err := p.holds(node, group); err != nil {
			return err
		}
		for _, other := range []string{"lb1", "lb2", "lb3"} {
			if other == node || p.had[other].Exited() {
				continue
			}
			if ok, err := p.lab.HasAddr(other, groupVIPs[group]); err != nil || ok {
				return fmt.Errorf("%s's VIP %v also on %s (%v)", group, groupVIPs[group], other, err)
			}
		}
	}
	return nil
}
