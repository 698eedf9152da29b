package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// TestBGPGracefulStop: a graceful stop of an active/active node loses no
// request, with the client connecting every 2ms (five times
// TestBGPActiveActive's rate, so a window of a few ms in which lb2 still
// gets flows but no longer serves them shows as failures), over
// gracefulStops stops and restarts of lb2. had withdraws lb2's route,
// keeps serving until the router has moved the flows away, lets the
// connections it holds finish, and only then stops its balancer.
//
// A connection in flight at the instant the router's kernel drops lb2's
// next hop can still fail, whatever lb2 does: the router sends its next
// packets (the handshake's last ACK, the ACK of the banner) to lb1 or
// lb3, which have no such connection and reset it (ECMP rehashes a
// removed next hop's flows, RFC 2992; only dr keeps such a flow,
// TestBGPFlowMovesToSameReal). Those are counted apart, by the router's
// own timestamp of the change; every other failure is lb2's and fails
// the test.
func TestBGPGracefulStop(t *testing.T) {
	const gracefulStops = 3
	p, router := bgpCluster(t, scenario.ECMP)
	all := []string{"198.18.0.11", "198.18.0.12", "198.18.0.13"}
	waitNextHops(t, router, anycast, 15*time.Second, all...)
	mon := monitorRoutes(t, router)
	failed, rehashed, sent := 0, 0, 0
	for i := range gracefulStops {
		pr := p.lab.StartProbe(p.bins, "client", anycast+":9000", probe.Options{Proto: "tcp", Interval: 2 * time.Millisecond, Timeout: time.Second, Count: 750})
		base := scheduled(t, p)
		lab.Eventually(t, 5*time.Second, "the probe reaches lb2 before its stop", func() error {
			if n := scheduled(t, p)["lb2"] - base["lb2"]; n < 10 {
				return fmt.Errorf("lb2 scheduled %d", n)
			}
			return nil
		})
		stopped := time.Now()
		exited := stopHad(t, p, "lb2")
		res, err := pr.Result(20 * time.Second)
		if res == nil {
			t.Fatalf("probe across lb2's stop %d: %v", i+1, err)
		}
		changed := routeLeft(t, mon, "198.18.0.12", stopped)
		at := stopped.Add(changed)
		sent += res.Sent
		t.Logf("stop %d of lb2: the router dropped its next hop %v after SIGTERM, had exited %v after; client: %s (%d stalled by the prober itself)",
			i+1, changed.Round(time.Microsecond), exited.Round(time.Millisecond), res.Summary(), res.Stalled)
		for _, a := range res.Attempts {
			if a.OK || a.Stalled {
				continue
			}
			inFlight := !a.Start.After(at) && !a.Start.Add(a.Took).Before(at)
			if inFlight {
				rehashed++
			} else {
				failed++
			}
			t.Logf("  failed, started %v after SIGTERM, took %v (in flight at the route change: %v): %s",
				a.Start.Sub(stopped).Round(time.Microsecond), a.Took.Round(time.Microsecond), inFlight, a.Err)
		}
		for _, line := range strings.Split(p.had["lb2"].Output(), "\n") {
			if strings.Contains(line, "drain") || strings.Contains(line, "withdr") {
				t.Logf("  lb2: %s", line)
			}
		}
		if i+1 < gracefulStops {
			p.start("lb2")
			waitNextHops(t, router, anycast, 15*time.Second, all...)
		}
	}
	t.Logf("graceful stops of lb2: %d of %d requests failed over %d stops, and %d more in flight at the router's route change (ECMP rehash)", failed, sent, gracefulStops, rehashed)
	if failed > 0 {
		t.Errorf("%d requests failed across lb2's graceful stops, not at the route change; want none", failed)
	}
}

// stopHad sends node's had SIGTERM and returns how long it took to exit
// (20s at most: the leave's own bound is 30s, but each step of it is
// bounded far lower).
func stopHad(t *testing.T, p *pair, node string) time.Duration {
	t.Helper()
	began := time.Now()
	if err := p.had[node].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.had[node].Wait(20 * time.Second); err != nil {
		t.Fatalf("%s's had after SIGTERM: %v", node, err)
	}
	return time.Since(began)
}
