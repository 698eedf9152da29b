package e2e

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
)

// TestBGPFlowMovesToSameReal: issue 16's active-active promise that "a
// flow that moves between nodes after a route change still reaches its
// real". With direct routing the nodes keep no per-flow state and sh picks
// the same real on every node, so when the node carrying a long-lived
// connection crashes, the router rehashes the flow to another node, which
// sends it to the same real: the connection goes on, every echo in order.
// (With the userspace proxy of scenario.ECMP the node is the connection's
// endpoint, and a moved flow is reset whatever the scheduler.)
//
// The stall is short: once the crashed node's switch port is down, the
// switch floods frames for its MAC until the route changes, and the other
// nodes' dr ingress rules, which match the VIP and port but not the
// frame's destination (IPVS-DR, at LOCAL_IN, sees only frames for the
// host), forward those too. What this test asserts holds either way: after
// the route change the flow reaches the same real through another node.
func TestBGPFlowMovesToSameReal(t *testing.T) {
	p, router := bgpCluster(t, scenario.ECMPDR)
	// The reals hold the VIP on lo and answer the client directly
	// (through the router), as for any LVS-DR real.
	for _, h := range p.lab.Backends() {
		h.Sh(t, fmt.Sprintf(`sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
ip addr add %s/32 dev lo`, anycast))
	}
	waitNextHops(t, router, anycast, 15*time.Second, "198.18.0.11", "198.18.0.12", "198.18.0.13")

	s := dialStreamTo(t, p, anycast+":9000")

	// The node carrying the flow: the one whose eth0 received the most
	// packets while the stream ran 50 steps (each step is at least one
	// packet from the client through that node; heartbeats, BFD and
	// checks add about 15 to each node meanwhile).
	before := rxPackets(t, p)
	if err := s.run(50); err != nil {
		t.Fatalf("before the crash: %v", err)
	}
	after := rxPackets(t, p)
	carrier, most, second := "", 0, 0
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		switch d := after[n] - before[n]; {
		case d > most:
			carrier, most, second = n, d, most
		case d > second:
			second = d
		}
	}
	if most < 50 || most < 2*second {
		t.Fatalf("no node stands out as carrying the stream: eth0 received %v then %v", before, after)
	}
	// The router hashes the 5-tuple (startRouter): ip route get names the
	// same node.
	sport := s.c.LocalAddr().(*net.TCPAddr).Port
	out, err := router.RunFor(5*time.Second, "ip", "route", "get", anycast, "from", p.lab.Client().Addr.String(), "iif", "eth1",
		"ipproto", "tcp", "sport", fmt.Sprint(sport), "dport", "9000")
	if want := "via " + p.lab.Host(carrier).Addr.String() + " "; err != nil || !strings.Contains(string(out), want) {
		t.Errorf("ip route get for the stream on the router: %v: %s, want %s(%s carries it)", err, out, want, carrier)
	}
	var rest []string
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		if n != carrier {
			rest = append(rest, p.lab.Host(n).Addr.String())
		}
	}
	t.Logf("the connection from port %d goes through %s (%d packets received in 50 steps, the next node %d) to %s", sport, carrier, most, second, s.real)

	s.maxStall = 0
	done := make(chan error, 1)
	go func() { done <- s.run(300) }()
	p.lab.Unplug(carrier)
	crashed := time.Now()
	if err := p.had[carrier].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone := waitNextHops(t, router, anycast, 5*time.Second, rest...)
	if err := <-done; err != nil {
		t.Fatalf("the connection to %s broke when %s crashed (its next hop left after %v): %v", s.real, carrier, gone.Round(time.Millisecond), err)
	}
	t.Logf("%s crashed: its next hop left after %v; the connection moved to another node and went on to %s, every echo in order, longest stall %v (%v after the crash)",
		carrier, gone.Round(time.Millisecond), s.real, s.maxStall.Round(time.Millisecond), time.Since(crashed).Round(time.Millisecond))
}

// rxPackets returns the packets each running lb node's eth0 received.
func rxPackets(t *testing.T, p *pair) map[string]int {
	t.Helper()
	rx := map[string]int{}
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		out, err := p.lab.Host(n).RunFor(5*time.Second, "cat", "/sys/class/net/eth0/statistics/rx_packets")
		if err != nil {
			t.Fatalf("%s: rx_packets: %v: %s", n, err, out)
		}
		var v int
		if _, err := fmt.Sscan(string(out), &v); err != nil {
			t.Fatalf("%s: rx_packets %q: %v", n, out, err)
		}
		rx[n] = v
	}
	return rx
}
