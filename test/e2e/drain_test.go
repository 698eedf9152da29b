package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// `hactl standby --drain` under a bounded load loop: the owner quiesces
// the HTTP service (keep-alive ends), waits until no request is in flight
// (a stalled real holds some until it resumes), then moves the group; the
// client, a fresh connection every 10 ms from before the drain until after
// the move, sees no failed request (a request the stalled real holds takes
// longer, within the probe's 3 s), and the VIP is on lb2 afterwards.
func TestStandbyDrain(t *testing.T) {
	p := balancerPair(t, 2, httpService(""), []string{"http"}, vipHTTP, "http")
	load := p.startDrainLoad()
	// backend1 stalls (SIGSTOP): the requests lb1 sent it stay in flight,
	// which the drain must wait for, and end once it resumes.
	b1 := p.backends[0]
	if err := b1.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b1.Signal(syscall.SIGCONT) })
	lab.Eventually(t, 5*time.Second, "a request in flight to the stalled backend1 on lb1", func() error {
		if n := p.active("lb1", 0); n < 1 {
			return fmt.Errorf("%d in flight", n)
		}
		return nil
	})
	lb1 := p.lab.Host("lb1")
	start := time.Now()
	drain := lb1.Start([]string{p.bins.Hactl, "-c", filepath.Join(lb1.Dir, "had.toml"), "standby", "--drain", "web", "--timeout", "10s"})
	lab.Eventually(t, 5*time.Second, "the drain waiting for the requests in flight", func() error {
		if out := drain.Output(); !strings.Contains(out, "request(s) open") {
			return fmt.Errorf("hactl so far: %q", out)
		}
		return nil
	})
	// While they are held the group stays (short of the checks' fall time,
	// 2 × 200 ms: the stalled real stays up on both nodes).
	if n := p.active("lb1", 0); n < 1 {
		t.Fatalf("requests in flight to backend1 on lb1: %d, want some", n)
	}
	if held, err := p.lab.HasAddr("lb1", vip); err != nil || !held || drain.Exited() {
		t.Errorf("with requests in flight: lb1 holds the VIP %v (%v), hactl exited %v; want held, still draining", held, err, drain.Exited())
	}
	resumed := time.Since(start)
	if err := b1.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	err := drain.Wait(30 * time.Second)
	took := time.Since(start)
	out := drain.Output()
	t.Logf("hactl standby --drain web: %v, of which %v after backend1 resumed:\n%s", took.Round(time.Millisecond), (took - resumed).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("hactl standby --drain web: %v: %s", err, out)
	}
	drainedThenMoved(t, out, "request(s) open")
	load.check(t)

	// A drain of a group this node does not hold is refused with the reason.
	refused, err := lb1.Hactl(p.bins, "standby", "--drain", "web")
	if err == nil || !strings.Contains(err.Error()+string(refused), `group "web" is not held here`) {
		t.Errorf("standby --drain of a group lb1 does not hold = %v: %s; want refused, naming why", err, refused)
	}
}

// With persistence, the drain also waits until lb2 holds lb1's table: the
// sticky client keeps its one real across the drained move, with no
// failed request.
func TestStandbyDrainSticky(t *testing.T) {
	p := balancerPair(t, 2, httpService(`persistent = "60s"`), []string{"http"}, vipHTTP, "http")
	load := p.startDrainLoad()
	start := time.Now()
	out, err := p.lab.Host("lb1").Hactl(p.bins, "standby", "--drain", "--timeout", "10s", "web")
	t.Logf("hactl standby --drain web: %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("hactl standby --drain web: %v: %s", err, out)
	}
	drainedThenMoved(t, string(out), "persistence table held by the peer")
	if res := load.check(t); len(res.Backends) != 1 {
		t.Errorf("the sticky client was answered by %v across the drained move, want one backend", res.Backends)
	}

	// Toward nobody there is nothing to drain for: with lb1 stopped, lb2
	// refuses at once, and its service keeps serving.
	if err := p.had["lb1"].Stop(10 * time.Second); err != nil {
		t.Fatalf("stopping had on lb1: %v", err)
	}
	lab.Eventually(t, 5*time.Second, "lb2 sees lb1 gone", func() error {
		if alive, err := p.peerAlive("lb2", "lb1"); err != nil || alive {
			return fmt.Errorf("lb1 alive %v (%v)", alive, err)
		}
		return nil
	})
	out, err = p.lab.Host("lb2").Hactl(p.bins, "standby", "--drain", "web")
	if err == nil || !strings.Contains(err.Error()+string(out), "standby of web refused: no live peer can hold it") || strings.Contains(string(out), "draining") {
		t.Errorf("standby --drain with no live peer = %v: %s; want refused before any drain, naming why", err, out)
	}
	if svcs, err := p.services("lb2"); err != nil || !svcs["http"].Serving {
		t.Errorf("after the refused drain lb2's http service is active %v (%v), want active", svcs["http"].Serving, err)
	}

	// A hold a crashed had left behind (SIGKILL in the middle of a move)
	// is removed when had starts again.
	lb1 := p.lab.Host("lb1")
	err = lab.InNetns(lb1.Netns, func() error {
		c, err := nft.OpenNetlink()
		if err != nil {
			return err
		}
		return nft.NewHold(c).Install([]netip.AddrPort{vipHTTP})
	})
	if err != nil {
		t.Fatalf("leaving a stale hold on lb1: %v", err)
	}
	p.start("lb1")
	if out, err := lb1.RunFor(5*time.Second, "nft", "list", "tables"); err != nil || strings.Contains(string(out), nft.HoldTableName) {
		t.Errorf("after had restarted on lb1, its nftables tables (%v):\n%s\nwant the stale %s removed", err, out, nft.HoldTableName)
	}
}

// drainLoad is the client's load loop across a drain: a fresh HTTP
// connection every 10 ms (500 of them, 3 s each at most), started once
// lb2's reals are up (the operator drains toward a peer that can serve: a
// peer still checking its reals would answer 503) and running through lb1.
type drainLoad struct {
	p        *pair
	pr       *lab.ProbeProc
	on1, on2 uint64 // requests lb1 and lb2 had scheduled before
}

func (p *pair) startDrainLoad() *drainLoad {
	p.t.Helper()
	p.waitRealsUp("lb2", "http", 2, 5*time.Second)
	l := &drainLoad{p: p, on1: p.scheduled("lb1"), on2: p.scheduled("lb2")}
	l.pr = p.lab.StartProbe(p.bins, "client", vipHTTP.String(), probe.Options{Proto: "http", Interval: 10 * time.Millisecond, Timeout: 3 * time.Second, Count: 500})
	l.reaches("lb1", l.on1)
	return l
}

// reaches waits until node has scheduled 20 requests since before.
func (l *drainLoad) reaches(node string, before uint64) {
	l.p.t.Helper()
	lab.Eventually(l.p.t, 5*time.Second, "the load reaches "+node, func() error {
		if n := l.p.scheduled(node) - before; n < 20 {
			return fmt.Errorf("%d requests through %s so far", n, node)
		}
		return nil
	})
}

// check waits for the move to lb2 and the load to reach it there, then
// for the probe's result: no request may have failed.
func (l *drainLoad) check(t *testing.T) *probe.Result {
	t.Helper()
	l.p.waitOwner("lb2", 5*time.Second)
	l.reaches("lb2", l.on2)
	// The drained service served until the VIP had gone; the move ended
	// the drain and lb1's service with it.
	if svcs, err := l.p.services("lb1"); err != nil || svcs["http"].Serving {
		t.Errorf("after the move lb1's http service is active %v (%v), want deactivated", svcs["http"].Serving, err)
	}
	res, err := l.pr.Result(30 * time.Second)
	if res == nil {
		t.Fatalf("probe gave no result: %v", err)
	}
	// A request whose SYN met the hold waits one retransmission (~1 s).
	var slowest time.Duration
	retransmitted := 0
	for _, a := range res.Attempts {
		slowest = max(slowest, a.Took)
		if a.OK && a.Took > 900*time.Millisecond {
			retransmitted++
		}
	}
	t.Logf("client across the drain and move: %s; lb1 served %d, lb2 %d; slowest request %v, %d over 900 ms (SYN held, retransmitted)",
		res.Summary(), l.p.scheduled("lb1")-l.on1, l.p.scheduled("lb2")-l.on2, slowest.Round(time.Millisecond), retransmitted)
	// The move lifted its SYN hold on lb1.
	if out, err := l.p.lab.Host("lb1").RunFor(5*time.Second, "nft", "list", "tables"); err != nil || strings.Contains(string(out), nft.HoldTableName) {
		t.Errorf("after the move lb1's nftables tables (%v):\n%s\nwant no %s", err, out, nft.HoldTableName)
	}
	if res.Failed > 0 {
		t.Errorf("%d of %d requests failed across standby --drain, want 0 (%v)", res.Failed, res.Sent, err)
		for _, a := range res.Attempts {
			if !a.OK {
				t.Logf("failed attempt: %+v", a)
			}
		}
	}
	return res
}

// drainedThenMoved checks hactl's drain output: it began, said what it
// waited for (waited), became ready and moved under the SYN hold, without
// timing out.
func drainedThenMoved(t *testing.T, out, waited string) {
	t.Helper()
	for _, want := range []string{"draining [web] (services [http])", waited, "ready to move", "released to the peer", "new connections held"} {
		if !strings.Contains(out, want) {
			t.Errorf("standby --drain output lacks %q", want)
		}
	}
	if strings.Contains(out, "moving anyway") {
		t.Errorf("the drain timed out instead of finishing")
	}
}

// active returns the requests node's balancer has in flight to the http
// service's real number i.
func (p *pair) active(node string, i int) int64 {
	p.t.Helper()
	svcs, err := p.services(node)
	if err != nil {
		p.t.Fatal(err)
	}
	return svcs["http"].Reals[i].Active
}

// scheduled returns how many connections and requests node's balancer has
// sent to the reals of the http service (ipvsadm --stats' Conns).
func (p *pair) scheduled(node string) uint64 {
	p.t.Helper()
	svcs, err := p.services(node)
	if err != nil {
		p.t.Fatal(err)
	}
	var n uint64
	for _, r := range svcs["http"].Reals {
		n += r.Scheduled
	}
	return n
}
