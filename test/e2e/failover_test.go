package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// crashOwner kills had on node with SIGKILL and unplugs the node, as a
// machine that dies takes its VIP and its heartbeats with it.
func (p *pair) crashOwner(node string) {
	p.t.Helper()
	if err := p.had[node].Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("SIGKILL had on %s: %v", node, err)
	}
	p.lab.Unplug(node)
}

// waitHolds waits until node has the VIP and says it is master (the
// crashed node, unplugged, may still carry a stale copy).
func (p *pair) waitHolds(node string, timeout time.Duration) time.Duration {
	p.t.Helper()
	return lab.Eventually(p.t, timeout, node+" holds the VIP and is master", func() error {
		ok, err := p.lab.HasAddr(node, vip)
		if err != nil || !ok {
			return fmt.Errorf("VIP on %s: %v %v", node, ok, err)
		}
		return p.master(node, "web")
	})
}

// Test 2: SIGKILL the owner: the peer takes the VIP, the client's
// neighbour entry moves to the new owner's MAC (gratuitous ARP), and the
// client's probes succeed again.
func TestCrashFailover(t *testing.T) {
	p := runningPair(t, pairOptions{})

	pr := p.lab.StartProbe(p.bins, "client", vipTCP.String(), probe.Options{Proto: "tcp", Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond, Count: 300})
	// Let the client resolve the VIP to lb1 before the crash.
	p.clientNeighIs("lb1", 5*time.Second)
	p.crashOwner("lb1")
	took := p.waitHolds("lb2", 5*time.Second)
	p.clientNeighIs("lb2", 2*time.Second)
	res, _ := pr.Result(30 * time.Second)
	if res == nil {
		t.Fatal("probe gave no result")
	}
	t.Logf("crash failover: lb2 held the VIP %v after SIGKILL of lb1 (deadtime %v); client: %s",
		took.Round(time.Millisecond), deadtime, res.Summary())
	if len(res.Attempts) == 0 || !res.Attempts[len(res.Attempts)-1].OK {
		t.Errorf("the client's last probe failed: the service did not come back on lb2")
	}
	if res.Backends["backend1"] == 0 || res.Backends["backend2"] == 0 {
		t.Errorf("answers per backend = %v, want both backends behind the VIP", res.Backends)
	}
}

// Test 3: SIGTERM the owner: it says goodbye and the peer takes over in
// under 5 keepalives.
func TestCleanStopHandover(t *testing.T) {
	p := runningPair(t, pairOptions{})

	pr := p.lab.StartProbe(p.bins, "client", vipTCP.String(), probe.Options{Proto: "tcp", Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond, Count: 200})
	lab.Eventually(t, 5*time.Second, "client reaches the VIP", func() error {
		_, err := p.lab.NeighMAC("client", vip)
		return err
	})
	start := time.Now()
	if err := p.had["lb1"].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	took := p.waitOwner("lb2", 5*time.Second)
	if err := p.had["lb1"].Wait(10 * time.Second); err != nil {
		t.Errorf("had on lb1 after SIGTERM: %v, want a clean exit", err)
	}
	// A clean stop is not an error: nothing at level ERROR (closing the
	// netlink watch at stop once logged one).
	for _, line := range strings.Split(p.had["lb1"].Output(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Errorf("had on lb1 logged an error on a clean stop: %s", line)
		}
	}
	res, _ := pr.Result(30 * time.Second)
	if res == nil {
		t.Fatal("probe gave no result")
	}
	t.Logf("clean stop: lb2 alone held the VIP %v after SIGTERM of lb1 (from SIGTERM: %v); client: %s",
		took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), res.Summary())
	if limit := 5 * keepalive; res.Longest >= limit {
		t.Errorf("client outage on SIGTERM handover = %v, want < 5×keepalive = %v", res.Longest, limit)
	}
}
