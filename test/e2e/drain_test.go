package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	// The operator drains toward a peer whose reals pass their checks: a
	// peer still checking would answer 503 (gating on the peer's readiness
	// is the failback side of issue 11, not the drain's).
	p.waitRealsUp("lb2", "http", 2, 5*time.Second)

	on1, on2 := p.scheduled("lb1"), p.scheduled("lb2")
	pr := p.lab.StartProbe(p.bins, "client", vipHTTP.String(), probe.Options{Proto: "http", Interval: 10 * time.Millisecond, Timeout: 3 * time.Second, Count: 500})
	// The drain starts under load: requests are reaching lb1.
	lab.Eventually(t, 5*time.Second, "the load reaches lb1", func() error {
		if n := p.scheduled("lb1") - on1; n < 20 {
			return fmt.Errorf("%d requests through lb1 so far", n)
		}
		return nil
	})
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
	// Until hactl's second progress line (a change, or a second later), the
	// held requests keep the group here.
	lab.Eventually(t, 5*time.Second, "the drain still waiting for the requests in flight", func() error {
		out := drain.Output()
		if strings.Count(out, "request(s) open") < 2 || drain.Exited() {
			return fmt.Errorf("hactl so far: %q", out)
		}
		return nil
	})
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
	for _, want := range []string{"draining [web] (services [http])", "request(s) open", "ready to move", "released to the peer"} {
		if !strings.Contains(out, want) {
			t.Errorf("standby --drain output lacks %q", want)
		}
	}
	if strings.Contains(out, "moving anyway") {
		t.Errorf("the drain timed out instead of finishing")
	}
	p.waitOwner("lb2", 5*time.Second)
	// The same load loop carries on through lb2.
	lab.Eventually(t, 5*time.Second, "the load reaches lb2", func() error {
		if n := p.scheduled("lb2") - on2; n < 20 {
			return fmt.Errorf("%d requests through lb2 so far", n)
		}
		return nil
	})

	res, err := pr.Result(30 * time.Second)
	if res == nil {
		t.Fatalf("probe gave no result: %v", err)
	}
	t.Logf("client across the drain and move: %s; lb1 served %d, lb2 %d", res.Summary(), p.scheduled("lb1")-on1, p.scheduled("lb2")-on2)
	if res.Failed > 0 {
		t.Errorf("%d of %d requests failed across standby --drain, want 0 (%v)", res.Failed, res.Sent, err)
		for _, a := range res.Attempts {
			if !a.OK {
				t.Logf("failed attempt: %+v", a)
			}
		}
	}

	// A drain of a group this node does not hold is refused with the reason.
	refused, err := lb1.Hactl(p.bins, "standby", "--drain", "web")
	if err == nil || !strings.Contains(err.Error()+string(refused), `group "web" is not held here`) {
		t.Errorf("standby --drain of a group lb1 does not hold = %v: %s; want refused, naming why", err, refused)
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
