package kernel

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/test/lab"
)

const vip = "198.18.0.100"

type setup struct {
	l       *lab.Lab
	b       *balancer
	client  *dialer
	clientA netip.Addr
	reals   []nft.Real
	names   map[netip.AddrPort]string
}

// newNAT builds lb1 as the reals' gateway (the VIP, forwarding, no ICMP
// redirects: LVS-NAT needs the replies through the balancer) and three
// reals whose default route and route to the client go through the VIP.
func newNAT(t *testing.T) *setup {
	l := lab.New(t, lab.Options{Nodes: 1, Backends: 3})
	l.Host("lb1").Sh(t, `sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
ip addr add `+vip+`/24 dev eth0`)
	s := &setup{l: l, b: newBalancer(t, l.Host("lb1")), client: newDialer(t, l.Client()), clientA: l.Client().Addr,
		names: map[netip.AddrPort]string{}}
	for _, h := range l.Backends() {
		h.Sh(t, fmt.Sprintf(`sysctl -qw net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.eth0.accept_redirects=0
ip route replace default via %s
ip route add %s/32 via %s`, vip, l.Client().Addr, vip))
		startServer(t, h, "0.0.0.0:8080")
		a := netip.AddrPortFrom(h.Addr, 8080)
		s.reals = append(s.reals, nft.Real{Addr: a, Weight: 1})
		s.names[a] = h.Name
	}
	return s
}

func (s *setup) svc(sched string) nft.Service {
	return nft.Service{Name: "web", Method: nft.MethodNAT, Protocol: "tcp", VIP: netip.MustParseAddrPort(vip + ":80"),
		Scheduler: sched, Reals: append([]nft.Real(nil), s.reals...)}
}

// connect opens n new connections one after another (bounded by 90s)
// and counts them per real; every real must see the client's address.
func (s *setup) connect(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	deadline := time.Now().Add(90 * time.Second)
	for i := range n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections in 90s", i, n)
		}
		name, seen, c, err := s.client.hello(addr)
		if err != nil {
			t.Fatalf("connection %d to %s: %v", i, addr, err)
		}
		c.Close()
		if seen != s.clientA {
			t.Fatalf("connection %d: %s saw client %s, want %s (the client's own address)", i, name, seen, s.clientA)
		}
		got[name]++
	}
	return got
}

// applyAndCheckShares applies svc, makes 10000 connections to the VIP's
// port 80 and checks them with checkShares.
func (s *setup) applyAndCheckShares(t *testing.T, svc nft.Service, weights map[string]int) {
	t.Helper()
	s.b.apply(svc)
	const n = 10000
	checkShares(t, s.connect(t, vip+":80", n), weights, n)
}

// checkShares fails t unless each real's share is within 2% of its weight's.
func checkShares(t *testing.T, got map[string]int, weights map[string]int, n int) {
	t.Helper()
	sum := 0
	for _, w := range weights {
		sum += w
	}
	for name, w := range weights {
		want := float64(n) * float64(w) / float64(sum)
		if d := math.Abs(float64(got[name]) - want); d > 0.02*want {
			t.Errorf("%s took %d of %d connections, want %.0f ±2%% (weight %d of %d); all: %v", name, got[name], n, want, w, sum, got)
		}
	}
	t.Logf("shares over %d connections: %v (weights %v)", n, got, weights)
}

func TestNATWeightedRoundRobin(t *testing.T) {
	s := newNAT(t)
	svc := s.svc("wrr")
	for i := range svc.Reals {
		svc.Reals[i].Weight = i + 1
	}
	s.applyAndCheckShares(t, svc, map[string]int{"backend1": 1, "backend2": 2, "backend3": 3})
}

// The balancer host's own connections to the VIP are scheduled too (the
// output hook), as IPVS schedules LOCAL_OUT ones.
func TestNATLocalClient(t *testing.T) {
	s := newNAT(t)
	s.b.apply(s.svc("rr"))
	local := newDialer(t, s.l.Host("lb1"))
	got := map[string]int{}
	for i := range 6 {
		name, _, c, err := local.hello(vip + ":80")
		if err != nil {
			t.Fatalf("connection %d from lb1 itself: %v", i, err)
		}
		c.Close()
		got[name]++
	}
	if len(got) != 3 {
		t.Errorf("lb1's own connections went to %v, want all three reals in turn", got)
	}
}

func TestNATRoundRobin(t *testing.T) {
	s := newNAT(t)
	svc := s.svc("rr")
	svc.Reals[2].Weight = 5 // rr ignores weights above 0, as IPVS's rr does
	s.applyAndCheckShares(t, svc, map[string]int{"backend1": 1, "backend2": 1, "backend3": 1})
}

func only(got map[string]int) string {
	if len(got) != 1 {
		return ""
	}
	for k := range got {
		return k
	}
	return ""
}

func TestNATSourceHashAndPersistence(t *testing.T) {
	s := newNAT(t)
	s.b.apply(s.svc("sh"))
	got := s.connect(t, vip+":80", 30)
	shReal := only(got)
	if shReal == "" {
		t.Errorf("sh: one client went to %v, want one real", got)
	}
	// A new batch (as any health change or a peer's takeover makes) hashes
	// the client to the same real: the jhash seed is fixed.
	s.b.apply(s.svc("sh"))
	if got := s.connect(t, vip+":80", 10); only(got) != shReal {
		t.Errorf("sh after a new batch: the client went to %v, want %s", got, shReal)
	}
	svc := s.svc("rr")
	svc.Persistent = 30 * time.Second
	s.b.apply(svc)
	got = s.connect(t, vip+":80", 30)
	first := only(got)
	if first == "" {
		t.Fatalf("persistent rr: one client went to %v, want one real", got)
	}
	// Its real goes down: the client moves, and stays on its new real.
	for i, r := range svc.Reals {
		if s.names[r.Addr] == first {
			svc.Reals[i].Down = true
		}
	}
	s.b.apply(svc)
	got = s.connect(t, vip+":80", 30)
	if second := only(got); second == "" || second == first {
		t.Errorf("after %s went down, the client went to %v, want one other real", first, got)
	}
}

// echo checks that c (greeting already read) still echoes a line.
func echo(c net.Conn, line string) error {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return err
	}
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if l != line+"\n" {
		return fmt.Errorf("echo %q, want %q", l, line)
	}
	return nil
}

func TestNATQuiescentDrainFallback(t *testing.T) {
	s := newNAT(t)
	svc, idx, name, c := s.openOne(t, s.svc("rr"))
	if c := s.b.connections(svc)["web"][svc.Reals[idx].Addr]; c.Active != 1 {
		t.Errorf("counts of %s with one open connection: %+v, want 1 active", name, c)
	}
	s.quiescentDrainFallback(t, svc, idx, name, c)
}

// A health change under load: reals flap between up, quiescent and down
// while two bounded loops open connections; none fails (every real stays
// alive, so no connection may be lost to the change itself). Each change
// must be crossed by at least perChange new connections, so a window in a
// batch (a chain or map briefly empty) would be hit: a SYN no DNAT rule
// takes reaches lb1's own stack, which holds the VIP and answers with a
// reset. Beyond the client's errors, lb1's own reset counter must stay 0.
// (Checked: with the batch split in two at the chain and map updates, this
// fails with thousands of refused connections.)
func TestNATHealthChangeUnderLoad(t *testing.T) {
	const (
		changes   = 100
		perChange = 150
		loops     = 2
		maxConns  = 40000 // per loop; with perChange*changes well below the client's port range
	)
	s := newNAT(t)
	// 40,000 connections leave as many client sockets in TIME-WAIT: widen
	// the client's ephemeral range so no dial fails for want of a port.
	s.l.Client().Sh(t, "sysctl -qw net.ipv4.ip_local_port_range='1024 65000'")
	svc := s.svc("wrr")
	s.b.apply(svc)
	rstsBefore := tcpOutRsts(t, s.l.Host("lb1"))
	var ok, failed atomic.Int64
	var mu sync.Mutex
	var errs []string // the first few, for the failure message
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for l := range loops {
		d := s.client
		if l > 0 {
			d = newDialer(t, s.l.Client())
		}
		wg.Go(func() {
			deadline := time.Now().Add(120 * time.Second)
			for i := 0; i < maxConns && time.Now().Before(deadline); i++ { // bounded; stopped after the last change
				select {
				case <-stop:
					return
				default:
				}
				_, _, c, err := d.hello(vip + ":80")
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if len(errs) < 5 {
						errs = append(errs, err.Error())
					}
					mu.Unlock()
					continue
				}
				c.Close()
				ok.Add(1)
			}
		})
	}
	for i := range changes {
		for j := range svc.Reals {
			svc.Reals[j].Down, svc.Reals[j].Weight = false, 1+(i+j)%3
		}
		if i%2 == 0 {
			svc.Reals[i%3].Down = true // failed check
		}
		if i%3 == 0 {
			svc.Reals[(i+1)%3].Weight = 0 // quiescent; one real always stays up
		}
		at := ok.Load()
		s.b.apply(svc)
		lab.Eventually(t, 10*time.Second, "load progress", func() error {
			if n := ok.Load() - at; n < perChange {
				return fmt.Errorf("%d connections since change %d", n, i)
			}
			return nil
		})
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d new connections failed during health changes; first: %s", failed.Load(), ok.Load()+failed.Load(), strings.Join(errs, "; "))
	}
	if d := tcpOutRsts(t, s.l.Host("lb1")) - rstsBefore; d != 0 {
		t.Errorf("lb1 sent %d TCP resets of its own during the health changes", d)
	}
	t.Logf("%d connections across %d atomic health changes (at least %d per change, %d loops), %d failed",
		ok.Load(), changes, perChange, loops, failed.Load())
}

// openOne applies svc with its first two reals and the third
// (backend3) as its fallback, opens one connection to the VIP, closed
// when the test ends, and returns the service as applied, the index and
// name of the real that took the connection, and the connection with its
// greeting read: quiescentDrainFallback's start.
func (s *setup) openOne(t *testing.T, svc nft.Service) (nft.Service, int, string, net.Conn) {
	t.Helper()
	svc.Reals = svc.Reals[:2]
	svc.Fallback = &s.reals[2]
	s.b.apply(svc)
	name, _, c, err := s.client.hello(vip + ":80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	idx := 0
	for i, r := range svc.Reals {
		if s.names[r.Addr] == name {
			idx = i
		}
	}
	return svc, idx, name, c
}

// quiescentDrainFallback takes real idx (name, which holds the open
// connection c) of svc quiescent (weight 0), then drained (down), then
// every real down; it fails the test unless c keeps echoing throughout,
// name takes no new connection while quiescent or drained, and the
// fallback (backend3) serves once every real is down. nat and dr share
// these rules (ipvsadm weight 0, ldirectord quiescent, fallback=).
func (s *setup) quiescentDrainFallback(t *testing.T, svc nft.Service, idx int, name string, c net.Conn) {
	t.Helper()
	svc.Reals[idx].Weight = 0
	s.b.apply(svc)
	if err := echo(c, "after quiescent"); err != nil {
		t.Fatalf("open connection to quiescent %s: %v", name, err)
	}
	if got := s.connect(t, vip+":80", 20); got[name] != 0 {
		t.Errorf("quiescent %s took new connections: %v", name, got)
	}
	svc.Reals[idx].Weight, svc.Reals[idx].Down = 1, true
	s.b.apply(svc)
	if err := echo(c, "after drain"); err != nil {
		t.Fatalf("open connection to drained %s: %v", name, err)
	}
	if got := s.connect(t, vip+":80", 20); got[name] != 0 {
		t.Errorf("drained %s took new connections: %v", name, got)
	}
	for i := range svc.Reals {
		svc.Reals[i].Down = true
	}
	s.b.apply(svc)
	if got := s.connect(t, vip+":80", 10); got["backend3"] != 10 {
		t.Errorf("with every real down, connections went to %v, want the fallback backend3", got)
	}
	if err := echo(c, "after fallback"); err != nil {
		t.Fatalf("open connection after every real went down: %v", err)
	}
}
