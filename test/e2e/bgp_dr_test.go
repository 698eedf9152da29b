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

	// The node carrying the flow: the one whose eth0 receives the stream's
	// packets, counted at ingress (before method dr's own ingress chain)
	// by a rule matching the client's source port. Counting every packet
	// on eth0 instead let heartbeats, BFD and checks swamp the stream at
	// load 30, when 50 steps took seconds.
	sport := s.c.LocalAddr().(*net.TCPAddr).Port
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		p.lab.Host(n).Sh(t, fmt.Sprintf(`nft add table netdev hp_flow
nft add chain netdev hp_flow in '{ type filter hook ingress device "eth0" priority -1000; }'
nft add rule netdev hp_flow in tcp sport %d counter`, sport))
	}
	if err := s.run(50); err != nil {
		t.Fatalf("before the crash: %v", err)
	}
	got := flowPackets(t, p)
	carrier, most, second := "", 0, 0
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		switch d := got[n]; {
		case d > most:
			carrier, most, second = n, d, most
		case d > second:
			second = d
		}
	}
	if most < 50 || second > 0 {
		t.Fatalf("the stream's 50 steps should reach one node with at least 50 packets, the others none: %v", got)
	}
	// The router hashes the 5-tuple (startRouter): ip route get names the
	// same node.
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
	t.Logf("the connection from port %d goes through %s (%d of its packets in 50 steps, none at the others) to %s", sport, carrier, most, s.real)

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

// flowPackets returns the packets the hp_flow counter of each lb node's
// eth0 ingress counted (`nft list table` prints "counter packets N bytes M").
func flowPackets(t *testing.T, p *pair) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		out, err := p.lab.Host(n).RunFor(5*time.Second, "nft", "list", "table", "netdev", "hp_flow")
		i := strings.Index(string(out), "counter packets ")
		if err != nil || i < 0 {
			t.Fatalf("%s: nft list table netdev hp_flow: %v: %s", n, err, out)
		}
		var v int
		if _, err := fmt.Sscan(string(out[i+len("counter packets "):]), &v); err != nil {
			t.Fatalf("%s: hp_flow counter in %q: %v", n, out, err)
		}
		got[n] = v
	}
	return got
}
