package e2e

import (
	"encoding/json"
	"fmt"
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
