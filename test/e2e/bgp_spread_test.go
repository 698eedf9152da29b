package e2e

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// Issue 16 asks that "flows from 200 client source ports spread over the
// nodes within ±15% of even". What the lab can show of it:
//
//   - The router picks a flow's next hop by hash-threshold (RFC 2992) on a
//     hash of the flow. The client's kernel picks each connection's source
//     port nearly sequentially (Linux 6.x: ascending by random even steps
//     of 2..16, seen in the lab), but the hash is keyed (a random seed
//     unless net.ipv4.fib_multipath_hash_seed is set), so each flow lands
//     on a node with probability 1/3, independently: the counts are
//     multinomial. TestBGPSpread checks that on the router's kernel for
//     every client port (one boot: 4634/4716/4650 of the 14116 even
//     ports; 70 runs of 200 consecutive ones, mean χ² 2.26, none above
//     the limit below).
//   - Each measurement also checks that every flow went where the
//     router's kernel says its hash puts it (`ip route get` per source
//     port: the counts are the hash's, not a node's miscount) and that
//     the route did not change meanwhile (a flap or a late next hop would
//     skew the counts): a failure then names its cause.
//   - For 200 flows each count is Binomial(200, 1/3): mean 66.7, σ 6.67.
//     ±15% of even is ±10 flows, 1.5σ; all three counts are within it in
//     70.9% of runs for ANY uniform hash (exact multinomial sum; the
//     median worst deviation is 11.5%, the 90th percentile 20.5%). So the
//     ±15% criterion fails about 3 runs in 10 on a healthy router, and
//     cannot be a pass/fail assertion; it is logged each run.
//   - The assertion: no node without flows, and Pearson's χ² of the counts
//     against even under the upper 0.1% point of χ²(2) (13.82): a uniform
//     spread fails it in 0.1% of runs; it fails when a node gets 41 flows
//     or fewer while the others split the rest.
//   - Neither a fixed net.ipv4.fib_multipath_hash_seed nor resilient
//     nexthop groups change this. A fixed seed makes the hash a function
//     of the 5-tuple, but the source ports still differ from run to run;
//     with fixed ports as well the result would be fixed, and picking a
//     seed because it passes would be a hard-coded result. Resilient
//     groups balance hash buckets over next hops, not flows: flows still
//     fall into buckets by the same hash (and BIRD installs multipath
//     routes, not nexthop objects).
//   - The router hashes the 5-tuple (policy 3, fields 0x37), not policy 1:
//     policy 1 uses the packet's socket hash when one is set, and on veth
//     the client's socket hash (random per connection, re-drawn on a TCP
//     retransmission timeout) reaches the router, so the next hop did not
//     depend on the 5-tuple at all (20 connections from one source port
//     went 8/12 over two next hops with a fixed seed; with policy 3, 20/0,
//     as `ip route get` predicts). A hardware router hashes the 5-tuple.

// spreadFlows is the number of client connections of one spread
// measurement.
const spreadFlows = 200

// spreadChi2Limit is the upper 0.1% point of χ² with 2 degrees of freedom
// (three nodes): its survival function is exp(-x/2).
var spreadChi2Limit = -2 * math.Log(0.001)

// spread is one measurement: the connections each of lb1..lb3 scheduled.
type spread struct {
	counts []int
	chi2   float64 // Pearson's χ² against an even spread
	worst  float64 // largest |count - even| / even
}

func newSpread(counts []int) spread {
	total := 0
	for _, c := range counts {
		total += c
	}
	even := float64(total) / float64(len(counts))
	s := spread{counts: counts}
	for _, c := range counts {
		d := float64(c) - even
		s.chi2 += d * d / even
		s.worst = max(s.worst, math.Abs(d)/even)
	}
	return s
}

// broken says what is wrong with a spread no uniform hash would give
// ("" when nothing is).
func (s spread) broken() string {
	for i, c := range s.counts {
		if c == 0 {
			return fmt.Sprintf("lb%d got no connection", i+1)
		}
	}
	if len(s.counts) != 3 || s.chi2 > spreadChi2Limit {
		return fmt.Sprintf("χ² %.1f against an even spread is above %.2f (p < 0.001 for a uniform hash)", s.chi2, spreadChi2Limit)
	}
	return ""
}

// within15 is issue 16's criterion: every count within ±15% of even.
func (s spread) within15() bool { return s.worst <= 0.15 }

func (s spread) String() string {
	return fmt.Sprintf("%v: worst %.1f%% off even (within ±15%%: %v), χ² %.2f", s.counts, 100*s.worst, s.within15(), s.chi2)
}

// measureSpread opens spreadFlows connections from the client to the
// VIP, one after the other, each from the source port the client's kernel
// picks, and counts what each node's balancer scheduled meanwhile. It
// fails t when a count is not where the router's hash puts that flow
// (each port asked of the router's kernel, hashedHops) or when the
// route to the VIP changed during the measurement (mon, the router's
// `ip -ts monitor route`): either makes the counts no measure of the hash.
func measureSpread(t *testing.T, p *pair, router *lab.Host, mon *lab.Proc) (spread, *probe.Result) {
	t.Helper()
	before := scheduled(t, p)
	began := time.Now()
	// Duration: room for all of them on a loaded machine (the default,
	// Count*Interval+Timeout, cut rounds short at load 30).
	res, err := p.lab.Probe(p.bins, "client", anycast+":9000", probe.Options{Proto: "tcp", Interval: 5 * time.Millisecond, Timeout: 500 * time.Millisecond, Count: spreadFlows, Duration: 30 * time.Second})
	if err != nil {
		t.Fatalf("%d connections to %s: %v", spreadFlows, anycast, err)
	}
	if res.Sent != spreadFlows {
		t.Fatalf("the probe made %d connections in 30s, want %d (%s)", res.Sent, spreadFlows, res.Summary())
	}
	after := scheduled(t, p)
	var counts []int
	total := 0
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		counts = append(counts, after[n]-before[n])
		total += after[n] - before[n]
	}
	if total != spreadFlows {
		t.Errorf("the nodes scheduled %v = %d connections, the client made %d", counts, total, spreadFlows)
	}
	for _, m := range routeMessages(mon.Output()) {
		if !m.at.Before(began) && m.fields[0] == anycast {
			t.Errorf("the route to %s changed during the spread measurement (begun %s): %s at %s", anycast, began.Format("15:04:05.000000"), strings.Join(m.fields, " "), m.at.Format("15:04:05.000000"))
		}
	}
	client, ports := sourcePorts(t, res)
	hashed, err := hashedHops(router, client, ports)
	switch {
	case err != nil:
		t.Errorf("asking the router's kernel for each flow's next hop: %v", err)
	case !slices.Equal(hashed, counts):
		t.Errorf("the nodes scheduled %v, the router's hash puts the client's %d flows at %v: flows did not go where the route sends them", counts, len(ports), hashed)
	}
	t.Logf("client source ports: %s", portPattern(ports))
	return newSpread(counts), res
}

// sourcePorts returns the client's address and the source port of each
// successful connection of res, in the order they were made.
func sourcePorts(t *testing.T, res *probe.Result) (netip.Addr, []uint16) {
	t.Helper()
	var client netip.Addr
	var ports []uint16
	for _, a := range res.Attempts {
		if !a.OK {
			continue
		}
		ap, err := netip.ParseAddrPort(a.Local)
		if err != nil {
			t.Fatalf("attempt %d: client address %q: %v", a.Seq, a.Local, err)
		}
		client, ports = ap.Addr(), append(ports, ap.Port())
	}
	return client, ports
}

// hashedHops asks the router's kernel which next hop it picks for a TCP
// flow from client at each of ports to anycast:9000 (`ip route get`
// with iif and the ports: the multipath hash of a forwarded packet) and
// returns the flows per node, lb1..lb3.
func hashedHops(router *lab.Host, client netip.Addr, ports []uint16) ([]int, error) {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "route get %s from %s iif eth1 ipproto tcp sport %d dport 9000\n", anycast, client, p)
	}
	out, err := router.RunFor(30*time.Second, "ip", "-4", "-batch", router.WriteFile("route-get.batch", b.String(), 0o600))
	if err != nil {
		return nil, fmt.Errorf("ip -batch: %v: %s", err, out)
	}
	counts := make([]int, 3)
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		i := slices.Index(f, "via")
		if len(f) == 0 || f[0] != anycast || i < 0 || i+1 >= len(f) {
			continue
		}
		n++
		switch f[i+1] {
		case "198.18.0.11":
			counts[0]++
		case "198.18.0.12":
			counts[1]++
		case "198.18.0.13":
			counts[2]++
		default:
			return nil, fmt.Errorf("next hop %s for a flow: %s", f[i+1], line)
		}
	}
	if n != len(ports) {
		return nil, fmt.Errorf("%d answers for %d ports:\n%s", n, len(ports), out)
	}
	return counts, nil
}

// portPattern describes a sequence of source ports: range, how many are
// distinct, and the steps between consecutive ones.
func portPattern(ports []uint16) string {
	if len(ports) == 0 {
		return "none"
	}
	distinct := map[uint16]bool{}
	steps := map[int]int{}
	for i, p := range ports {
		distinct[p] = true
		if i > 0 {
			steps[int(p)-int(ports[i-1])]++
		}
	}
	var st []string
	for _, d := range slices.Sorted(maps.Keys(steps)) {
		st = append(st, fmt.Sprintf("%+d×%d", d, steps[d]))
	}
	return fmt.Sprintf("%d..%d, %d distinct of %d; steps %s", slices.Min(ports), slices.Max(ports), len(distinct), len(ports), strings.Join(st, " "))
}

// TestSpreadStats checks the statistic against hand-computed spreads.
func TestSpreadStats(t *testing.T) {
	for _, tt := range []struct {
		counts         []int
		within, broken bool
	}{
		{[]int{67, 67, 66}, true, false},
		{[]int{71, 53, 76}, false, false}, // 20.5% off even: a normal run
		{[]int{57, 76, 67}, true, false},
		{[]int{42, 79, 79}, false, false}, // χ² 13.7
		{[]int{41, 80, 79}, false, true},  // χ² 14.8
		{[]int{0, 100, 100}, false, true},
	} {
		s := newSpread(tt.counts)
		if s.within15() != tt.within || (s.broken() != "") != tt.broken {
			t.Errorf("spread %v: within ±15%% %v, broken %q; want %v, %v", s, s.within15(), s.broken(), tt.within, tt.broken)
		}
	}
}

// TestBGPSpread measures the spread HAPAIR_SPREAD_ROUNDS times (1..50)
// in one lab, for the figures of the ±15% criterion; it runs only when
// asked (TestBGPActiveActive measures one round every run).
func TestBGPSpread(t *testing.T) {
	env := os.Getenv("HAPAIR_SPREAD_ROUNDS")
	if env == "" {
		t.Skip("skipping: set HAPAIR_SPREAD_ROUNDS=N (1..50) to measure the spread N times")
	}
	rounds, err := strconv.Atoi(env)
	if err != nil || rounds < 1 || rounds > 50 {
		t.Fatalf("HAPAIR_SPREAD_ROUNDS=%q: want 1..50", env)
	}
	lab.RequireProgram(t, "/usr/sbin/bird", "bird2")
	p := newPair(t, scenario.ECMP)
	router := startRouter(t, p)
	for _, n := range []string{"lb1", "lb2", "lb3"} {
		p.start(n)
	}
	waitNextHops(t, router, anycast, 15*time.Second, "198.18.0.11", "198.18.0.12", "198.18.0.13")
	mon := monitorRoutes(t, router)
	within := 0
	var client netip.Addr
	parity := -1
	for i := range rounds {
		s, res := measureSpread(t, p, router, mon)
		t.Logf("round %d: %s (%s)", i+1, s, res.Summary())
		if s.within15() {
			within++
		}
		if why := s.broken(); why != "" {
			t.Errorf("round %d: spread %v: %s", i+1, s.counts, why)
		}
		var ports []uint16
		if client, ports = sourcePorts(t, res); len(ports) > 0 {
			parity = int(ports[0] % 2)
		}
	}
	t.Logf("within ±15%% of even in %d of %d rounds (a uniform hash: 70.9%% of rounds)", within, rounds)
	if parity >= 0 {
		hashOverPorts(t, p, router, client, parity)
	}
}

// hashOverPorts asks the router's kernel for the next hop of a flow from
// every client port of the parity the client's kernel used (it tries one
// parity first for connect, RFC 6056 section 3.3.4 style), and checks the
// hash itself: each node's share over all of them, and Pearson's χ² of
// every run of spreadFlows consecutive ports, which a uniform hash keeps
// at a mean of 2 with 0.1% of runs above spreadChi2Limit.
func hashOverPorts(t *testing.T, p *pair, router *lab.Host, client netip.Addr, parity int) {
	t.Helper()
	out, err := p.lab.Host("client").RunFor(5*time.Second, "sysctl", "-n", "net.ipv4.ip_local_port_range")
	f := strings.Fields(string(out))
	if err != nil || len(f) != 2 {
		t.Fatalf("the client's port range: %v %q", err, out)
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("the client's port range %q", out)
	}
	total := make([]int, 3)
	var chis []float64
	above := 0
	for start := lo + (lo+parity)%2; start+2*spreadFlows <= hi+1; start += 2 * spreadFlows {
		var ports []uint16
		for port := start; port < start+2*spreadFlows; port += 2 {
			ports = append(ports, uint16(port))
		}
		counts, err := hashedHops(router, client, ports)
		if err != nil {
			t.Fatalf("ports %d..: %v", start, err)
		}
		for i, c := range counts {
			total[i] += c
		}
		s := newSpread(counts)
		chis = append(chis, s.chi2)
		if s.chi2 > spreadChi2Limit {
			above++
		}
	}
	mean := 0.0
	for _, c := range chis {
		mean += c / float64(len(chis))
	}
	t.Logf("the router's hash over every client port of parity %d (%d..%d): per node %v; %d runs of %d consecutive ports: mean χ² %.2f (uniform: 2), %d above %.2f",
		parity, lo, hi, total, len(chis), spreadFlows, mean, above, spreadChi2Limit)
}
