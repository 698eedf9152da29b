package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestChurn: reloads (the second real's weight toggled between 1 and 2 on
// both nodes) and `hactl real disable/enable` cycles on the owner, while
// the client connects to the VIP every 10 ms: 0 failed requests, and the
// group does not move.
func TestChurn(t *testing.T) {
	sc, r, p := setupPair(t, pairOpts{keepalive: 100 * time.Millisecond})
	const window = 3 * time.Second // one probe run; ops fit in its first 2.5 s
	reloads, drains := 0, 0
	failed, sent, stalled, service, here := 0, 0, 0, 0, 0
	var longest, serviceLongest, hereLongest time.Duration
	var trace strings.Builder
	can := startCanary(stallStep)
	defer can.finish()
	for reloads < sc.reloads || drains < sc.reloads {
		pr := p.probe(window)
		end := time.Now().Add(window - 500*time.Millisecond)
		for time.Now().Before(end) && (reloads < sc.reloads || drains < sc.reloads) {
			if reloads < sc.reloads {
				p.o.weight = 1 + (reloads+1)%2
				for _, n := range []string{"lb1", "lb2"} {
					h := p.lab.Host(n)
					h.WriteFile("had.toml", config(h, p.o), 0o600)
					if out, err := h.Hactl(p.bins, "reload"); err != nil {
						t.Fatalf("reload %d on %s: %v: %s", reloads, n, err, out)
					}
				}
				reloads++
			}
			if drains < sc.reloads {
				for _, verb := range []string{"disable", "enable"} {
					if out, err := p.lab.Host("lb1").Hactl(p.bins, "real", verb, "tcp", "198.18.0.21:9000"); err != nil {
						t.Fatalf("real %s %d: %v: %s", verb, drains, err, out)
					}
				}
				drains++
			}
		}
		res, err := pr.Result(window + 30*time.Second)
		if res == nil {
			t.Fatalf("probe: %v", err)
		}
		// A failure the prober's own stall decided is none of the
		// service's; one in an outage a host stall explains is shown apart.
		so := classifyOutages(res, nil, can.seen())
		failed, sent, longest = failed+res.Failed, sent+res.Sent, max(longest, res.Longest)
		stalled, service, here = stalled+res.Stalled, service+so.failed, here+so.failedHere
		serviceLongest, hereLongest = max(serviceLongest, so.longest), max(hereLongest, so.unexplained)
		fmt.Fprintf(&trace, "after %d reloads, %d disable/enable: %s\n", reloads, drains, res.Summary())
		for _, a := range res.Attempts {
			if !a.OK {
				fmt.Fprintf(&trace, "  failed attempt %d at %s after %v (prober stalled: %v): %s\n", a.Seq, a.Start.Format(stamp), a.Took, a.Stalled, a.Err)
			}
		}
		for i, o := range so.outs {
			fmt.Fprintf(&trace, "  service outage %s +%v (%d failed) explained by: %q\n", o.Start.Format(stamp), o.Length.Round(time.Millisecond), o.Failed, so.why[i])
		}
	}
	// lb1 started the group once, before the churn; any other start moved it.
	ff := count(p.output("lb1"), "group starting") - 1 + count(p.output("lb2"), "group starting")
	setting := fmt.Sprintf("%d reloads + %d real disable/enable, client every 10ms", reloads, drains)
	// The bound: 0 failed requests, judged on the failures of
	// the service with the host fine.
	r.row("churn under load", "hapair", setting, "failed requests (longest outage); of the service, the prober's stalls left out; of the service with the host fine",
		fmt.Sprintf("%d of %d, %d while the prober stalled (%v); %d (%v); %d (%v)", failed, sent, stalled, longest.Round(time.Millisecond),
			service, serviceLongest.Round(time.Millisecond), here, hereLongest.Round(time.Millisecond)), verdict(here == 0))
	r.row("churn under load", "hapair", setting, "group moves", fmt.Sprint(ff), verdict(ff == 0))
	r.log(t, "churn.txt", trace.String())
	r.log(t, "churn-lb1.log", p.output("lb1"))
	trace.WriteString(stallTrace(can.seen()))
	if here > 0 || ff > 0 {
		t.Errorf("churn: %d of %d requests failed with the prober and the host running (longest outage %v), %d group moves; want 0 and 0", here, sent, hereLongest, ff)
	}
}
