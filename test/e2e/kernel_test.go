package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// Kernel forwarding e2e: LVS-NAT services (method "nat") on the pair,
// with conntrack-sync, so established connections survive the owner's
// crash and a planned switchover. The reals (labsrv) route through the
// VIP: their default route and their route to the client go via it, as
// LVS-NAT reals use the director as gateway.

func kernelPair(t *testing.T) *pair {
	t.Helper()
	return kernelPairWith(t, pairOptions{Services: scenario.KernelServices, Resources: scenario.KernelResources}, "nat", "sip")
}

// kernelPairWith starts the pair of o, whose services names are nat
// services, with the reals routing through the VIP, and waits until lb1
// owns the group and sees every real of them up.
func kernelPairWith(t *testing.T, o pairOptions, names ...string) *pair {
	t.Helper()
	p := newPair(t, o)
	thinStreams(t, p)
	p.natGateway("rto_min " + thinRTOMin)
	p.up()
	// Every real checked up before the first client packet: a UDP flow
	// that arrived before its service was programmed would keep its
	// un-NATed conntrack entry.
	for _, name := range names {
		p.waitRealsUp("lb1", name, 2, 10*time.Second)
	}
	return p
}

// thinRTOMin is the rto_min (ip-route(8)) of the routes between the
// client and the VIP, both ways. With the default 200 ms, one RTO is
// srtt + 200 ms, and the stream's last echo comes up to one 10 ms step
// before the crash, so a takeover landing just after a resend misses
// "takeover + 200 ms" by a few ms (seen: 654ms against 652ms, 669ms
// against 666ms) for reasons that are TCP's, not the balancer's. With
// 100 ms a resend follows the takeover within ~100 ms.
const thinRTOMin = "100ms"

// thinStreams sets up the two ends of every stream, the client's and
// the reals' namespaces, as interactive traffic (SIP, games) is set up:
// Linux's thin-stream linear timeouts (net.ipv4.tcp_thin_linear_timeouts,
// tcp(7)), so a stream with fewer than four segments in flight
// retransmits every RTO (srtt + rto_min, see thinRTOMin) for its first six
// retransmissions instead of backing off (0.2, 0.4, 0.8, 1.6 s). The
// stream below is stop-and-wait, so it is thin; without this, when it
// resumes after a failover depends on where TCP's backoff happens to be,
// not on the balancer. With it, the longest stall measures the balancer:
// the takeover plus at most one RTO. It also gives the client's route to
// the VIP rto_min thinRTOMin; each test gives the reals' routes to the
// client the same, beside the routes its method needs.
//
// The congestion control is reno: the kernel counts a stream as thin
// only once it has left its initial slow start (tcp_stream_is_thin),
// and BBR, the default here, never sets a slow-start threshold, so under
// BBR no stream is ever thin. Both sysctls are per network namespace
// (checked on this 6.18 kernel: set in one namespace, unchanged in
// another) and read when a socket is accepted or its timer fires, so
// they apply to the connections labsrv accepts after this.
func thinStreams(t *testing.T, p *pair) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A new slice: appending to Backends() would write into the lab's own.
	for _, h := range append(slices.Clone(p.lab.Backends()), p.lab.Client()) {
		if out, err := h.Run(ctx, "sysctl", "-qw", "net.ipv4.tcp_thin_linear_timeouts=1", "net.ipv4.tcp_congestion_control=reno"); err != nil {
			t.Fatalf("%s: thin-stream linear timeouts and reno: %v: %s", h.Name, err, out)
		}
	}
	c := p.lab.Client()
	if out, err := c.Run(ctx, "ip", "route", "add", vip.String()+"/32", "dev", "eth0", "rto_min", thinRTOMin); err != nil {
		t.Fatalf("%s: route to the VIP with rto_min %s: %v: %s", c.Name, thinRTOMin, err, out)
	}
}

// checkStall fails the test when the longest stall of a stream across a
// takeover is above the bound: the takeover time (from the crash
// or the command to the new owner holding the VIP as master) + 200 ms,
// one retransmission timeout of a thin stream (see thinStreams).
//
// start is the crash or the command; the log says where the longest
// stall lay relative to it (the line's write and its echo), so a failure
// says which side of the takeover waited.
func checkStall(t *testing.T, what string, s *stream, start time.Time, took time.Duration) {
	t.Helper()
	limit := took + 200*time.Millisecond
	t.Logf("%s at %s: takeover %v, longest stall %v (a line written at %+v, echoed at %+v from the start), bound takeover + 200ms = %v",
		what, start.UTC().Format("15:04:05.000000"), took.Round(time.Millisecond), s.maxStall.Round(time.Millisecond),
		s.stallFrom.Sub(start).Round(time.Millisecond), s.stallFrom.Add(s.maxStall).Sub(start).Round(time.Millisecond),
		limit.Round(time.Millisecond))
	if s.maxStall > limit {
		t.Errorf("%s: longest stall %v > takeover %v + 200ms", what, s.maxStall.Round(time.Millisecond), took.Round(time.Millisecond))
	}
}

// stream is a long-lived TCP connection from the client through the VIP:
// a counter line every 10 ms, each echo checked in order.
type stream struct {
	c    net.Conn
	br   *bufio.Reader
	rx   *rxStamps // the kernel's receive time of each echo
	real string
	n    int
	// maxStall is the longest a counter line waited for its echo, from
	// its write to the echo's arrival in the client's kernel (rxStamps):
	// the time the connection held the client up. The gap between two echoes would also count the client's
	// own pauses between lines (its 10 ms pace, and on a loaded host its
	// process not running: seen, 2.2 s with no packet in flight and
	// nothing lost), which are not the connection's. stallFrom is when
	// that line was written.
	maxStall  time.Duration
	stallFrom time.Time
	// liveErr is the first error of the live stream (live), for a test
	// that waits for something else meanwhile (broken).
	liveErr atomic.Pointer[error]
}

// broken returns the error that ended the live stream, nil while it runs.
func (s *stream) broken() error {
	if e := s.liveErr.Load(); e != nil {
		return *e
	}
	return nil
}

func dialStream(t *testing.T, p *pair) *stream {
	t.Helper()
	return dialStreamTo(t, p, vipTCP.String())
}

// dialStreamTo is dialStream to addr ("198.18.2.100:9000").
func dialStreamTo(t *testing.T, p *pair, addr string) *stream {
	t.Helper()
	c, err := lab.DialIn(p.lab.Client().Netns, "tcp4", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("client dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	rx, err := newRxStamps(c)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{c: c, br: bufio.NewReader(rx), rx: rx}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	greet, err := s.br.ReadString('\n')
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	s.real = strings.TrimSpace(greet)
	return s
}

// step sends the next counter and checks its echo; any error (reset,
// timeout, a wrong line) is the connection breaking.
func (s *stream) step() error {
	s.n++
	want := strconv.Itoa(s.n)
	sent := time.Now()
	s.c.SetDeadline(sent.Add(5 * time.Second))
	if _, err := fmt.Fprintf(s.c, "%s\n", want); err != nil {
		return fmt.Errorf("sending %s: %w", want, err)
	}
	got, err := s.br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("echo of %s: %w", want, err)
	}
	if strings.TrimSpace(got) != want {
		return fmt.Errorf("echo %q, want %s: a byte lost, duplicated or reordered", got, want)
	}
	echoed := s.rx.last
	if echoed.IsZero() {
		echoed = time.Now()
	}
	if d := echoed.Sub(sent); d > s.maxStall {
		s.maxStall, s.stallFrom = d, sent
	}
	return nil
}

// run steps every 10 ms for n steps.
func (s *stream) run(n int) error {
	for range n {
		if err := s.step(); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond) // the sender's pace, not a wait for a condition
	}
	return nil
}

// maxLiveSteps bounds a live stream whose test never stopped it (a
// t.Fatal between live and stop): 3000 steps, at least 30 s.
const maxLiveSteps = 3000

// live sets the stream stepping every 10 ms in the background and
// returns stop, which lets it take after more steps and returns its first
// error; the longest stall counts from live on. A failover test goes live
// before it waits for the sync and crashes the owner, so the stream keeps
// sending across the move, as the client does. (Stalls were once
// gaps between echoes with the stream stopped during the wait for the
// sync: the wait counted, seen as 519 ms of a 972 ms "stall" before the
// crash.)
func (s *stream) live() (stop func(after int) error) {
	s.maxStall = 0
	more := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		for range maxLiveSteps {
			select {
			case n := <-more:
				done <- s.run(n)
				return
			default:
			}
			if err := s.step(); err != nil {
				s.liveErr.Store(&err)
				done <- err
				return
			}
			time.Sleep(10 * time.Millisecond) // the sender's pace, not a wait for a condition
		}
		err := fmt.Errorf("stream still live after %d steps: the test never stopped it", maxLiveSteps)
		s.liveErr.Store(&err)
		done <- err
	}()
	return func(after int) error {
		more <- after
		return <-done
	}
}

// sipFlow sends datagrams from one client port to the UDP service and
// returns which real answered each (labsrv echoes "NAME: DATA").
type sipFlow struct {
	c net.Conn
}

func dialSIP(t *testing.T, p *pair) *sipFlow {
	t.Helper()
	c, err := lab.DialIn(p.lab.Client().Netns, "udp4", fmt.Sprintf("%s:5060", vip), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sipFlow{c: c}
}

func (f *sipFlow) ask(i int) (string, error) {
	buf := make([]byte, 512)
	for try := 0; try < 20; try++ { // UDP: resend until answered (bounded)
		f.c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := fmt.Fprintf(f.c, "MESSAGE %d", i); err != nil {
			return "", err
		}
		n, err := f.c.Read(buf)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(string(buf[:n]), ":")
		return name, nil
	}
	return "", fmt.Errorf("datagram %d: no answer in 20 tries", i)
}

// waitSynced waits until the standby's conntrackd holds the owner's
// entry of stream s in its external cache, asked through lb2's conntrackd
// itself (-e), so a failover test starts from a synced pair. It looks for
// the stream's own client port: "dport=9000" alone also matched the
// entries of lb1's health checks (198.18.0.11 to the reals' port 9000),
// which conntrackd replicates too.
func waitSynced(t *testing.T, p *pair, s *stream) {
	t.Helper()
	conf := p.lab.Host("lb2").Dir + "/state/conntrackd-web/conntrackd.conf"
	want := fmt.Sprintf("sport=%d dport=9000", s.c.LocalAddr().(*net.TCPAddr).Port)
	lab.Eventually(t, 5*time.Second, "lb2's conntrackd holds lb1's entry of the stream ("+want+")", func() error {
		out, err := p.lab.Host("lb2").RunFor(2*time.Second, "conntrackd", "-C", conf, "-e")
		if err != nil || !strings.Contains(string(out), want) {
			return fmt.Errorf("external cache: %v: %.300s", err, out)
		}
		return nil
	})
}

func TestKernelNATSurvivesCrashFailover(t *testing.T) {
	p := kernelPair(t)
	s := dialStream(t, p)
	sip := dialSIP(t, p)
	sipReal, err := sip.ask(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.run(100); err != nil {
		t.Fatalf("before the crash: %v", err)
	}
	stop := s.live()
	waitSynced(t, p, s)
	crashed := time.Now()
	p.crashOwner("lb1")
	p.waitHolds("lb2", 5*time.Second)
	took := time.Since(crashed) // the takeover time: crash to the peer holding the VIP as master
	if err := stop(100); err != nil {
		t.Fatalf("the connection broke across the crash failover (lb2 took over %v after the crash): %v", took.Round(time.Millisecond), err)
	}
	t.Logf("crash failover: lb2 holds the VIP %v after SIGKILL of had on lb1 (then unplugged); the connection to %s kept every byte in order, longest stall %v",
		took.Round(time.Millisecond), s.real, s.maxStall.Round(time.Millisecond))
	checkStall(t, "nat crash failover", s, crashed, took)
	got, err := sip.ask(1)
	if err != nil {
		t.Fatalf("UDP flow after the failover: %v", err)
	}
	if got != sipReal {
		t.Errorf("UDP flow went to %s after the failover, want its real %s", got, sipReal)
	}
}

func TestKernelNATSurvivesSwitchover(t *testing.T) {
	p, d1, s := natStreamPair(t, "lb1")
	stop := s.live()
	waitSynced(t, p, s)
	before := d1.read(t)
	start := time.Now()
	p.hactl("lb1", "standby", "web")
	p.waitHolds("lb2", 5*time.Second)
	took := time.Since(start)
	err := stop(100)
	// What lb1 forwarded from the move on: a reply leaving with a real's
	// own address is one the client resets.
	t.Logf("%v; on lb1 since the move: %v", moveTimeline(t, p, "lb1", "lb2", start), since(before, d1.read(t)))
	if err != nil {
		t.Fatalf("the connection broke across the planned switchover: %v", err)
	}
	checkStall(t, "nat planned switchover", s, start, took)
	out, err := p.lab.Host("lb2").Hactl(p.bins, "services")
	if err != nil || !strings.Contains(string(out), "198.18.0.100:9000") || !strings.Contains(string(out), "mode nat") {
		t.Errorf("hactl services on lb2: %v\n%s", err, out)
	}
	t.Logf("hactl services on lb2:\n%s", out)
}

// TestKernelDRCrashFailover: direct routing through had. The reals hold
// the VIP on their loopback (arp_ignore=1, arp_announce=2) and answer the
// client directly; they see the client's own address. With sh both nodes
// send a client to the same real, so a long-lived connection survives
// the owner's crash.
func TestKernelDRCrashFailover(t *testing.T) {
	p := drPair(t, pairOptions{Services: scenario.KernelDRService, Resources: scenario.KernelDRResources})
	s := dialStream(t, p)
	if err := s.run(50); err != nil {
		t.Fatalf("before the crash: %v", err)
	}
	stop := s.live()
	crashed := time.Now()
	p.crashOwner("lb1")
	p.waitHolds("lb2", 5*time.Second)
	took := time.Since(crashed)
	if err := stop(100); err != nil {
		t.Fatalf("the dr connection broke across the crash failover (takeover %v): %v", took.Round(time.Millisecond), err)
	}
	t.Logf("dr crash failover: lb2 holds the VIP %v after the crash; the connection to %s kept every byte in order, longest stall %v",
		took.Round(time.Millisecond), s.real, s.maxStall.Round(time.Millisecond))
	checkStall(t, "dr crash failover", s, crashed, took)
	// dr forwards the VIP's frames at netdev ingress and drops them
	// there, before the IP stack: the new owner's traffic confirmation
	// must still see the stream's packets (ha/vip ListenTraffic), or it
	// warns that the VIP gets no traffic and re-announces for nothing.
	waitFirstPacket(t, p, "lb2")
	out, err := p.lab.Host("lb2").Hactl(p.bins, "services")
	if err != nil || !strings.Contains(string(out), "mode dr") {
		t.Errorf("hactl services on lb2: %v\n%s", err, out)
	}
	t.Logf("hactl services on lb2:\n%s", out)
}

// drPair starts the pair of o (one dr service "gate") with the reals
// holding the VIP on their loopback (arp_ignore=1, arp_announce=2), and
// waits until lb1 owns the group and sees both reals up.
func drPair(t *testing.T, o pairOptions) *pair {
	t.Helper()
	p := newPair(t, o)
	thinStreams(t, p)
	for _, h := range p.lab.Backends() {
		h.Sh(t, fmt.Sprintf(`sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
ip addr add %s/32 dev lo
ip route add %s/32 dev eth0 rto_min %s`, vip, p.lab.Client().Addr, thinRTOMin))
	}
	p.up()
	p.waitRealsUp("lb1", "gate", 2, 10*time.Second)
	return p
}

// TestKernelDRFlowsSurviveMoves: dr with rr, whose pick is not a function
// of the flow: an established connection goes on to its real after a
// crash failover and a planned switchover because the new owner loaded
// the old one's flow table (synced as the IPVS sync daemon syncs its
// connection table). The stream is made to land on backend2 (a first
// connection takes rr's first turn, backend1), so a new owner that
// rescheduled it would send it to backend1, which resets it.
func TestKernelDRFlowsSurviveMoves(t *testing.T) {
	for _, move := range []string{"crash", "switchover"} {
		t.Run(move, func(t *testing.T) {
			p := drPair(t, pairOptions{Services: scenario.KernelDRRRService, Resources: scenario.KernelDRResources})
			if first := dialStream(t, p); first.real != "backend1" {
				t.Fatalf("the first connection went to %s, want rr's first real backend1", first.real)
			}
			s := dialStream(t, p)
			if s.real != "backend2" {
				t.Fatalf("the stream went to %s, want rr's second real backend2", s.real)
			}
			if err := s.run(50); err != nil {
				t.Fatalf("before the %s: %v", move, err)
			}
			stop := s.live()
			p.waitSynced("lb2", "lb1")
			start := time.Now()
			if move == "crash" {
				p.crashOwner("lb1")
			}
			if move == "switchover" {
				p.hactl("lb1", "standby", "web")
			}
			p.waitHolds("lb2", 5*time.Second)
			took := time.Since(start)
			if err := stop(100); err != nil {
				t.Fatalf("the dr connection to %s broke across the %s (takeover %v): %v", s.real, move, took.Round(time.Millisecond), err)
			}
			checkStall(t, "dr rr "+move, s, start, took)
		})
	}
}

// A reload rewrites the kernel services in one batch per table: the open
// connection to a real made quiescent keeps going, new ones avoid it.
func TestKernelNATReload(t *testing.T) {
	p := kernelPair(t)
	var s *stream
	for range 4 { // rr: within a few connections one reaches backend1
		s = dialStream(t, p)
		if s.real == "backend1" {
			break
		}
	}
	if s.real != "backend1" {
		t.Fatalf("no connection reached backend1 under rr")
	}
	lb1 := p.lab.Host("lb1")
	lb1.WriteFile("had.toml", scenario.KernelReweighted(pairConfig(lb1, p.opts)), 0o600)
	out := p.hactl("lb1", "reload")
	t.Logf("hactl reload:\n%s", out)
	if err := s.run(50); err != nil {
		t.Fatalf("the open connection to the quiescent real after the reload: %v", err)
	}
	for i := range 10 {
		n := dialStream(t, p)
		if n.real != "backend2" {
			t.Fatalf("new connection %d went to %s after backend1 became quiescent", i, n.real)
		}
		n.c.Close()
	}
}

// `hactl real disable|enable` on a nat service (ldirectord's drain): the
// open connection to the drained real goes on, new ones avoid it, and
// after enable they reach it again.
func TestKernelNATRealDrain(t *testing.T) {
	p := kernelPair(t)
	s := dialStream(t, p)
	drained := "198.18.0.21:9000"
	if s.real != "backend1" {
		drained = "198.18.0.22:9000"
	}
	p.hactl("lb1", "real", "disable", "nat", drained)
	if err := s.run(20); err != nil {
		t.Fatalf("the open connection to drained %s (%s): %v", s.real, drained, err)
	}
	for i := range 6 {
		n := dialStream(t, p)
		n.c.Close()
		if n.real == s.real {
			t.Fatalf("new connection %d went to drained %s", i, s.real)
		}
	}
	p.hactl("lb1", "real", "enable", "nat", drained)
	seen := map[string]int{}
	for range 4 { // rr over two reals
		n := dialStream(t, p)
		n.c.Close()
		seen[n.real]++
	}
	if seen[s.real] == 0 {
		t.Errorf("after enable, new connections went to %v, never to %s", seen, s.real)
	}
	if err := s.run(10); err != nil {
		t.Fatalf("the open connection after enable: %v", err)
	}
}

// hasTable reports whether node holds hapair's nftables table of family
// (ip or netdev).
func hasTable(p *pair, node, family string) (bool, error) {
	out, err := p.lab.Host(node).RunFor(5*time.Second, "nft", "list", "tables", family)
	if err != nil {
		return false, fmt.Errorf("nft list tables on %s: %v: %s", node, err, out)
	}
	return strings.Contains(string(out), "table "+family+" hapair"), nil
}

// The kernel services' table is there while the group is held and gone
// when it is released (planned switchover) and when had exits (SIGTERM).
func TestKernelTablesFollowTheGroup(t *testing.T) {
	p := kernelPair(t)
	wantTable := func(node string, want bool, when string) {
		t.Helper()
		lab.Eventually(t, 5*time.Second, fmt.Sprintf("%s: table ip hapair on %s: %v", when, node, want), func() error {
			got, err := hasTable(p, node, "ip")
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("table ip hapair present: %v", got)
			}
			return nil
		})
	}
	wantTable("lb1", true, "owner")
	wantTable("lb2", false, "standby")
	p.hactl("lb1", "standby", "web")
	p.waitHolds("lb2", 5*time.Second)
	wantTable("lb2", true, "after the switchover")
	wantTable("lb1", false, "after the switchover")
	if err := p.had["lb2"].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.had["lb2"].Wait(10 * time.Second); err != nil {
		t.Errorf("had on lb2 after SIGTERM: %v, want a clean exit", err)
	}
	if got, err := hasTable(p, "lb2", "ip"); err != nil || got {
		t.Errorf("after had on lb2 exited: table ip hapair present %v (%v), want gone", got, err)
	}
}
