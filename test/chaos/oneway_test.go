package chaos

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// TestOneWayLoss: lb1's outgoing heartbeats are dropped on both links
// (nftables output chain on lb1) while it still hears lb2. Want one owner
// within deadtime + two keepalives and for as long as the loss lasts, and
// lb1's status naming the one-way link.
func TestOneWayLoss(t *testing.T) {
	sc, r, p := setupPair(t, pairOpts{keepalive: 100 * time.Millisecond})
	p.lab.MuteHeartbeats("lb1")
	muted := time.Now()
	took := p.waitSole("lb2", 10*time.Second)
	bound := p.o.deadtime() + 2*p.o.keepalive
	// Sample the holders while the loss lasts.
	bad, samples := 0, 0
	for end := muted.Add(sc.oneWay); time.Now().Before(end); samples++ {
		if hs := p.holders(); len(hs) != 1 || hs[0] != "lb2" {
			bad++
			t.Errorf("during the one-way loss the VIP is held by %v, want lb2 alone", hs)
		}
		time.Sleep(50 * time.Millisecond) // sampling period, not a wait for a condition
	}
	st1, err1 := p.status("lb1")
	st2, err2 := p.status("lb2")
	if err1 != nil || err2 != nil {
		t.Fatalf("status: %v %v", err1, err2)
	}
	said1, said2 := "-", "-"
	for _, ps := range st1.Peers {
		if ps.OneWay != "" {
			said1 = ps.OneWay
		}
	}
	for _, ps := range st2.Peers {
		if !ps.Alive {
			said2 = ps.Name + " dead (lb2 cannot tell one-way loss from a dead peer: nothing of lb1 reaches it)"
		}
	}
	p.lab.Heal()
	setting := fmt.Sprintf("lb1 output heartbeats dropped on both links, keepalive %v, deadtime %v, %v", p.o.keepalive, p.o.deadtime(), sc.oneWay)
	// took includes polling ip and hactl in namespaces (tens of ms a round).
	r.row("one-way loss", "hapair", setting, "one owner after (bound deadtime+2×keepalive)", fmt.Sprintf("%v (bound %v)", took.Round(time.Millisecond), bound), verdict(took <= bound+300*time.Millisecond))
	r.row("one-way loss", "hapair", setting, "samples (every 50ms) with 0 or 2 VIP holders", fmt.Sprintf("%d of %d", bad, samples), verdict(bad == 0))
	r.row("one-way loss", "hapair", setting, "lb1 status", said1, verdict(strings.Contains(said1, "has not heard us for")))
	r.row("one-way loss", "hapair", setting, "lb2 status", said2, "-")
	if !strings.Contains(said1, "lb2 has not heard us for") {
		t.Errorf("lb1 status does not name the one-way link: %+v", st1.Peers)
	}
	// After the heal both hear each other again; with auto_failback off lb2
	// keeps the group: nothing moves.
	off1, off2 := len(p.output("lb1")), len(p.output("lb2"))
	if _, err := lab.WaitFor(5*time.Second, func() error { return bothAlive(p) }); err != nil {
		t.Errorf("after the heal: %v", err)
	}
	time.Sleep(4 * p.o.keepalive) // an observation window after the heal, not a wait for a condition
	moves := count(p.output("lb1")[off1:], "group starting") + count(p.output("lb2")[off2:], "group starting")
	owner, err := p.owner()
	if err != nil || owner != "lb2" || moves > 0 {
		t.Errorf("after the heal: owner %q (%v), lb1 started the group %d times; want lb2 to keep it", owner, err, moves)
	}
	r.row("one-way loss", "hapair", setting, "group moves after the heal (auto_failback off)", strconv.Itoa(moves), verdict(moves == 0 && owner == "lb2"))
	r.log(t, "oneway-lb1.log", p.output("lb1"))
	r.log(t, "oneway-lb2.log", p.output("lb2"))
}
