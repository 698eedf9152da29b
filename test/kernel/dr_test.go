package kernel

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/test/lab"
)

// newDR builds direct routing: the VIP on lb1's eth0, and on each real's
// loopback with arp_ignore=1 and arp_announce=2 (so the reals never answer
// ARP for it), servers bound to the VIP so replies leave from it.
func newDR(t *testing.T) *setup {
	l := lab.New(t, lab.Options{Nodes: 1, Backends: 3})
	l.Host("lb1").Sh(t, `ip addr add `+vip+`/24 dev eth0`)
	s := &setup{l: l, b: newBalancer(t, l.Host("lb1")), client: newDialer(t, l.Client()), clientA: l.Client().Addr,
		names: map[netip.AddrPort]string{}}
	for _, h := range l.Backends() {
		h.Sh(t, `sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
ip addr add `+vip+`/32 dev lo`)
		startServer(t, h, vip+":80")
		a := netip.AddrPortFrom(h.Addr, 80)
		s.reals = append(s.reals, nft.Real{Addr: a, Weight: 1})
		s.names[a] = h.Name
	}
	return s
}

func (s *setup) drSvc(proto, sched string) nft.Service {
	return nft.Service{Name: "gate", Method: nft.MethodDR, Protocol: proto, VIP: netip.MustParseAddrPort(vip + ":80"),
		Scheduler: sched, Ingress: "eth0", Reals: append([]nft.Real(nil), s.reals...)}
}

func TestDRWeightedRoundRobin(t *testing.T) {
	s := newDR(t)
	svc := s.drSvc("tcp", "wrr")
	for i := range svc.Reals {
		svc.Reals[i].Weight = 3 - i
	}
	s.applyAndCheckShares(t, svc, map[string]int{"backend1": 3, "backend2": 2, "backend3": 1})
}

func TestDRSourceHashAndPersistence(t *testing.T) {
	s := newDR(t)
	s.b.apply(s.drSvc("tcp", "sh"))
	if got := s.connect(t, vip+":80", 30); only(got) == "" {
		t.Errorf("sh: one client went to %v, want one real", got)
	}
	svc := s.drSvc("tcp", "rr")
	svc.Persistent = 30 * time.Second
	s.b.apply(svc)
	got := s.connect(t, vip+":80", 30)
	first := only(got)
	if first == "" {
		t.Fatalf("persistent rr: one client went to %v, want one real", got)
	}
	// Open a connection, then take its real down: the connection goes on
	// (its flow is pinned), new ones move to one other real.
	name, _, c, err := s.client.hello(vip + ":80")
	if err != nil || name != first {
		t.Fatalf("persistent connection went to %s (%v), want %s", name, err, first)
	}
	defer c.Close()
	for i, r := range svc.Reals {
		if s.names[r.Addr] == first {
			svc.Reals[i].Down = true
		}
	}
	s.b.apply(svc)
	if err := echo(c, "after down"); err != nil {
		t.Fatalf("open dr connection to the downed real: %v", err)
	}
	got = s.connect(t, vip+":80", 30)
	if second := only(got); second == "" || second == first {
		t.Errorf("after %s went down, the client went to %v, want one other real", first, got)
	}
}

// A UDP flow (a SIP-like dialogue from one client port) keeps its real
// under rr, across a health change of another real, and a drained real
// keeps its flows while taking no new ones.
func TestDRUDPFlowKeepsItsReal(t *testing.T) {
	s := newDR(t)
	svc := s.drSvc("udp", "rr")
	s.b.apply(svc)
	c, err := s.client.dial("udp4", vip+":80", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ask := func(i int) (string, error) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := fmt.Fprintf(c, "OPTIONS %d", i); err != nil {
			return "", err
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			return "", err
		}
		f := strings.Fields(string(buf[:n]))
		if len(f) < 2 || f[1] != s.clientA.String() {
			return "", fmt.Errorf("reply %q: want the real to see client %s", buf[:n], s.clientA)
		}
		return f[0], nil
	}
	first, err := ask(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range svc.Reals {
		if c := s.b.connections(svc)["gate"][r.Addr]; (s.names[r.Addr] == first) != (c.Active == 1) {
			t.Errorf("flow counts of %s: %+v (the flow went to %s)", s.names[r.Addr], c, first)
		}
	}
	for i := 1; i <= 20; i++ {
		if i == 10 {
			for j, r := range svc.Reals {
				if s.names[r.Addr] == first {
					svc.Reals[j].Down = true // drained: its flow continues
				}
			}
			s.b.apply(svc)
		}
		got, err := ask(i)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if got != first {
			t.Fatalf("datagram %d went to %s, want %s (the flow's real)", i, got, first)
		}
	}
}

func TestDRRoundRobin(t *testing.T) {
	s := newDR(t)
	svc := s.drSvc("tcp", "rr")
	svc.Reals[0].Weight = 4 // rr ignores weights above 0, as IPVS's rr does
	s.applyAndCheckShares(t, svc, map[string]int{"backend1": 1, "backend2": 1, "backend3": 1})
}

// Quiescent (weight 0) and drained reals keep their open dr connections
// (the flow table pins them) and take no new ones; with every real down
// the fallback serves.
func TestDRQuiescentDrainFallback(t *testing.T) {
	s := newDR(t)
	svc, idx, name, c := s.openOne(t, s.drSvc("tcp", "rr"))
	s.quiescentDrainFallback(t, svc, idx, name, c)
}
