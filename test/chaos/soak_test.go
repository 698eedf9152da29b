package chaos

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// TestLossSoak: 5% random heartbeat loss (nftables numgen random) on each
// of the two links, deadtime 4× keepalive, keepalive 50ms and 100ms, the
// client probing the VIP every 10 ms; then one link down and 5% on the
// other. DESIGN.md: no false failover with two links. keepalived (VRRPv3,
// advert 0.1 s, its one link, the same loss) runs as the anchor.
//
// The loss is lb1's rules only (input and output): each heartbeat crosses
// them once, so each direction loses 5% per link, as keepalived's adverts
// from lb1 do. Verdicts: "ok" only against a stated bound (DESIGN.md: no
// false failover with two links); FAIL where the figure shows a defect
// (a client outage of deadtime or more that no stall of the prober, the
// backends or the host explains; more false failovers than the loss
// explains); "-" for figures without a stated bound.
func TestLossSoak(t *testing.T) {
	sc, r := setup(t)
	for _, k := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("keepalive=%v", k), func(t *testing.T) {
			p := newPair(t, pairOpts{keepalive: k})
			setting := fmt.Sprintf("keepalive %v, deadtime %v", k, 4*k)
			soakPhase(t, r, p, sc, setting+", 5% loss on each of 2 links", 2, func() {
				p.lab.LossHeartbeats("lb1", soakLoss)
			})
			soakPhase(t, r, p, sc, setting+", link 2 down, 5% loss on link 1", 1, func() {
				p.lab.PartitionLink("lb1", "lb2", "eth1")
				p.lab.LossHeartbeats("lb1", soakLoss)
			})
			r.log(t, fmt.Sprintf("soak-k%v-lb1.log", k), p.output("lb1"))
			r.log(t, fmt.Sprintf("soak-k%v-lb2.log", k), p.output("lb2"))
		})
	}
	t.Run("keepalived", func(t *testing.T) { keepalivedSoak(t, r, sc) })
}

// soakPhase applies fault, probes for sc.soak, heals and reports false
// failovers (takeovers on either node), probe failures and late-heartbeat
// warnings, each beside what the loss alone explains (lossModel). links is
// how many heartbeat links carry the loss (the others are down); with 2,
// DESIGN.md promises no false failover, and a false failover or a client
// outage of deadtime or more that no stall explains fails the test.
func soakPhase(t *testing.T, r *report, p *pair, sc scale, setting string, links int, fault func()) {
	t.Helper()
	strict := links == 2
	off1, off2 := len(p.output("lb1")), len(p.output("lb2"))
	fault()
	can := startCanary(stallStep)
	pr := p.probe(sc.soak)
	// The controls: the same client probing each backend directly, past
	// had. When they fail too, the backends did (labsrv, at normal
	// priority on the loaded host), not hapair.
	var ctls []*lab.ProbeProc
	for _, b := range p.lab.Backends() {
		ctls = append(ctls, p.probeTarget(netip.AddrPortFrom(b.Addr, lab.LabsrvTCPPort).String(), sc.soak))
	}
	res, err := pr.Result(sc.soak + 30*time.Second)
	var cres []*probe.Result
	for _, c := range ctls {
		cr, cerr := c.Result(sc.soak + 30*time.Second)
		if cr == nil {
			t.Fatalf("control probe: %v", cerr)
		}
		cres = append(cres, cr)
	}
	gaps := can.finish()
	p.lab.Heal()
	if res == nil {
		t.Fatalf("probe: %v", err)
	}
	log1, log2 := p.output("lb1")[off1:], p.output("lb2")[off2:]
	model := lossModel{keepalive: p.o.keepalive, deadtime: p.o.deadtime(), loss: soakLoss, links: links, d: sc.soak}
	// Every takeover in the phase is a false one (lb1 owned it before):
	// lb2 taking the group, and lb1 taking it back. Those that follow a
	// host-wide stall (the deadtime before the start overlaps a canary gap
	// of deadtime/2 or more) are counted apart: no heartbeat protocol
	// survives a host that does not run it for longer than its deadtime.
	long := longer(gaps, p.o.deadtime()/2)
	starts := append(startTimes(log1), startTimes(log2)...)
	false1, stalled := len(starts), 0
	for _, st := range starts {
		if during(long, st.Add(-p.o.deadtime()/2), p.o.deadtime()/2+50*time.Millisecond) {
			stalled++
		}
	}
	unexplained := false1 - stalled
	// Without a stated bound for one link, the figure is a defect only when
	// the loss cannot explain it (lossModel.excess).
	ffVerdict := "-"
	if strict {
		ffVerdict = verdict(unexplained == 0)
	} else if model.excess(unexplained) {
		ffVerdict = "FAIL"
	}
	r.row("loss soak", "hapair", setting+fmt.Sprintf(", %v", sc.soak), "false failovers (of which after a host stall ≥ deadtime/2; expected from the loss alone)",
		fmt.Sprintf("%d (%d; %d stalls seen; expected %.2g)", false1, stalled, len(long), model.deaths()), ffVerdict)
	// The client path carries no loss: with no failover it should see no
	// outage at all. A failure decided by the prober's own stall is none
	// (probe.Attempt.Stalled); an outage of the service during a host stall
	// (had's balancer and labsrv run at normal priority) is the machine's
	// load, shown apart. No bound is stated for the rest; an outage as long
	// as deadtime that nothing explains is a defect.
	so := classifyOutages(res, cres, gaps)
	r.row("loss soak", "hapair", setting, "probe failures (longest outage as measured; of the service; of the service with the backends and the host fine)",
		fmt.Sprintf("%d of %d, %d while the prober stalled (%v; %v; %v)", res.Failed, res.Sent, res.Stalled,
			res.Longest.Round(time.Millisecond), so.longest.Round(time.Millisecond), so.unexplained.Round(time.Millisecond)),
		map[bool]string{true: "FAIL", false: "-"}[strict && so.unexplained >= p.o.deadtime()])
	for i, cr := range cres {
		r.row("loss soak", "control", setting, fmt.Sprintf("probe failures straight to backend%d, past had (longest outage of the backend)", i+1),
			fmt.Sprintf("%d of %d, %d while the prober stalled (%v)", cr.Failed, cr.Sent, cr.Stalled, so.control[i].Round(time.Millisecond)), "-")
	}
	late := lateWarnings(log1) + lateWarnings(log2)
	r.row("loss soak", "hapair", setting, "late-heartbeat warnings (expected from the loss alone)", fmt.Sprintf("%d (%.2g)", late, model.lates()), "-")
	t.Logf("%s: false failovers %d (%d after a host stall; %d stalls ≥ deadtime/2; expected %.2g), probe %s, service outage %v (%v with the backends and the host fine), late warnings %d (expected %.2g)",
		setting, false1, stalled, len(long), model.deaths(), res.Summary(), so.longest, so.unexplained, late, model.lates())
	r.log(t, fmt.Sprintf("soak-k%v-%dlinks-probe.txt", p.o.keepalive, links), so.trace(res, cres, gaps))
	if strict && (unexplained > 0 || so.unexplained >= p.o.deadtime()) {
		t.Errorf("%s: %d false failovers not explained by a host stall, longest client outage of the service with the backends and the host fine %v; want 0 and under deadtime", setting, unexplained, so.unexplained)
	}
	if ffVerdict == "FAIL" && !strict {
		t.Errorf("%s: %d false failovers not explained by a host stall, where the loss alone explains %.2g (P < 0.1%%)", setting, unexplained, model.deaths())
	}
	if _, err := lab.WaitFor(10*time.Second, func() error { _, err := p.owner(); return err }); err != nil {
		t.Fatalf("after the soak phase: %v", err)
	}
}

var suppressed = regexp.MustCompile(`suppressed[=":]+(\d+)`)

// lateWarnings counts late-heartbeat warnings in a had log, including the
// ones its rate limit folded into a later line's "suppressed" count.
func lateWarnings(log string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, " late: silent for") {
			continue
		}
		n++
		if m := suppressed.FindStringSubmatch(line); m != nil {
			x, _ := strconv.Atoi(m[1])
			n += x
		}
	}
	return n
}

// keepalivedConf is a VRRPv3 instance with advert 0.1 s on eth0 holding the
// VIP, priority 200 on lb1 and 100 on lb2 (preempt, keepalived's default).
func keepalivedConf(h *lab.Host, prio int) string {
	return fmt.Sprintf(`global_defs {
  router_id %s
  vrrp_version 3
  vrrp_garp_master_delay 0
}
vrrp_instance web {
  state BACKUP
  interface eth0
  virtual_router_id 15
  priority %d
  advert_int 0.1
  virtual_ipaddress {
    198.18.0.100/24 dev eth0
  }
}
`, h.Name, prio)
}

func startKeepalived(t *testing.T, h *lab.Host, prio int) *lab.Proc {
	t.Helper()
	conf := h.WriteFile("keepalived.conf", keepalivedConf(h, prio), 0o644)
	return h.Start([]string{"keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"--use-file", conf, "--pid", h.Dir + "/keepalived.pid", "--vrrp_pid", h.Dir + "/vrrp.pid",
		"--checkers_pid", h.Dir + "/checkers.pid"})
}

// keepalivedSoak is the anchor: the same loss on keepalived's one link.
func keepalivedSoak(t *testing.T, r *report, sc scale) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Fatalf("keepalived not installed (make chaos installs Debian's keepalived): %v", err)
	}
	l := lab.New(t, lab.Options{})
	k1 := startKeepalived(t, l.Host("lb1"), 200)
	k2 := startKeepalived(t, l.Host("lb2"), 100)
	lab.Eventually(t, 15*time.Second, "keepalived on lb1 alone holds the VIP", func() error {
		hs, err := l.Holders(vip)
		if err != nil {
			return err
		}
		if len(hs) != 1 || hs[0] != "lb1" {
			return fmt.Errorf("VIP held by %v", hs)
		}
		return nil
	})
	off1, off2 := len(k1.Output()), len(k2.Output())
	l.LossMatching("lb1", soakLoss, "ip protocol vrrp")
	// Sample the holders while the loss lasts (bounded by sc.soak).
	end := time.Now().Add(sc.soak)
	dual := 0
	for time.Now().Before(end) {
		if hs, err := l.Holders(vip); err == nil && len(hs) != 1 {
			dual++
		}
		time.Sleep(200 * time.Millisecond) // sampling period, not a wait for a condition
	}
	l.Heal()
	// Counted like hapair's "group starting" on either node: lb1 would
	// count too if it ever left MASTER and came back.
	ff := count(k1.Output()[off1:], "Entering MASTER STATE") + count(k2.Output()[off2:], "Entering MASTER STATE")
	// The same loss as hapair's: 5% of the adverts lb1 sends (its output
	// chain; the backup sends none), one link.
	model := lossModel{keepalive: 100 * time.Millisecond, deadtime: masterDown(100*time.Millisecond, 100), loss: soakLoss, links: 1, d: sc.soak}
	setting := fmt.Sprintf("VRRPv3 advert 0.1s, 1 link, 5%% loss, %v", sc.soak)
	r.row("loss soak", "keepalived", setting, fmt.Sprintf("false failovers (expected from the loss alone: master_down_interval %v, 3 lost adverts)", masterDown(100*time.Millisecond, 100)),
		fmt.Sprintf("%d (%.2g)", ff, model.deaths()), "anchor")
	r.row("loss soak", "keepalived", setting, "samples (every 200ms) with 0 or 2 VIP holders", strconv.Itoa(dual), "anchor")
	t.Logf("keepalived: %d false failovers (expected %.2g), %d bad samples", ff, model.deaths(), dual)
	r.log(t, "soak-keepalived-lb1.log", k1.Output())
	r.log(t, "soak-keepalived-lb2.log", k2.Output())
}
