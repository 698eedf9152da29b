package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// Test 6a: cutting every heartbeat link makes both nodes own (two nodes
// and no ping node cannot tell a dead peer from a lost link); after the
// heal one owner remains within two keepalives, and the client sees the
// winner's gratuitous ARP.
func TestPartitionAndHeal(t *testing.T) {
	p := runningPair(t, pairOptions{})

	p.lab.PartitionHeartbeats("lb1", "lb2")
	lab.Eventually(t, 5*time.Second, "both nodes hold the VIP during the partition", func() error {
		if hs := p.holders(); len(hs) != 2 {
			return fmt.Errorf("VIP holders %v", hs)
		}
		return nil
	})
	// Point the client at the loser, so only the winner's re-announce after
	// the heal can bring it back.
	lb2MAC := p.lab.Host("lb2").MAC("eth0").String()
	if out, err := p.lab.Host("client").RunFor(10*time.Second, "ip", "neigh", "replace", vip.String(), "lladdr", lb2MAC, "dev", "eth0", "nud", "stale"); err != nil {
		t.Fatalf("pointing the client at lb2: %v: %s", err, out)
	}
	p.lab.Heal()
	healed := time.Now()
	took := p.waitOwner("lb1", 5*time.Second)
	t.Logf("after the heal one owner (lb1) remains: %v (polling included; 2×keepalive = %v)",
		time.Since(healed).Round(time.Millisecond), 2*keepalive)
	// The bound: two keepalives to hear each other and release, plus the
	// cost of polling ip and hactl in namespaces (~tens of ms per round).
	if limit := 2*keepalive + 300*time.Millisecond; took > limit {
		t.Errorf("dual ownership lasted %v after the heal, want under %v", took, limit)
	}
	p.clientNeighIs("lb1", 2*time.Second) // the winner
}
