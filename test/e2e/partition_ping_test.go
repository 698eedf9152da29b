package e2e

import (
	"testing"
	"time"
)

// Test 6b: with a ping node that only lb2 reaches, only lb2 owns during a
// heartbeat partition: lb1, hearing neither its peer nor its ping node,
// knows it is the one cut off.
func TestPartitionWithPingNode(t *testing.T) {
	p := runningPair(t, pairOptions{Ping: "198.18.0.21"})

	p.lab.Partition("lb1", "backend1") // lb1 loses its ping node
	// With weight 1, losing it alone moves nothing: lb1 (199) still
	// outranks lb2 (100). Wait past the ping's fall count to show it.
	p.keepsVIP("lb1", time.Second, "after lb1 lost its ping node")
	p.lab.PartitionHeartbeats("lb1", "lb2")
	took := p.waitOwner("lb2", 10*time.Second)
	t.Logf("partition with ping node: lb2 alone holds the VIP after %v", took.Round(time.Millisecond))
	// It must stay that way while the partition lasts.
	p.keepsVIP("lb2", 4*deadtime, "during the partition")
}
