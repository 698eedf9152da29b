package e2e

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// Balancer e2e tests: the embedded balancer behind the pair's VIP, with
// labsrv backends (backend1 198.18.0.21, backend2 .22, backend3 .23).

const (
	checkInterval = scenario.CheckInterval
	checkTimeout  = scenario.CheckTimeout
	checkFall     = scenario.CheckFall
)

var vipHTTP = netip.AddrPortFrom(vip, lab.LabsrvHTTPPort)

// httpService is an HTTP-mode service checked like ldirectord's negotiate.
var httpService = scenario.HTTPService

// balancerPair starts a pair serving services and waits until lb1 owns
// the VIP and the client is served on target.
func balancerPair(t *testing.T, backends int, services string, names []string, target netip.AddrPort, proto string) *pair {
	t.Helper()
	p := runningPair(t, scenario.Balancer(backends, services, names...))
	lab.Eventually(t, 10*time.Second, "the client is served on "+target.String(), func() error {
		_, err := p.probe(target, proto, 5)
		return err
	})
	return p
}

// probe runs count probes from the client, 10 ms apart; the error is set
// when any failed.
func (p *pair) probe(target netip.AddrPort, proto string, count int) (*probe.Result, error) {
	return p.lab.Probe(p.bins, "client", target.String(), probe.Options{
		Proto: proto, Interval: 10 * time.Millisecond, Timeout: 500 * time.Millisecond, Count: count,
	})
}

// serviceState is the part of `hactl services -o json` the tests read.
type serviceState = lab.Service

func (p *pair) services(node string) (map[string]serviceState, error) {
	return p.lab.Host(node).Services(p.bins)
}

// waitRealsUp waits until service on node lists reals reals and every one
// has passed its health check.
func (p *pair) waitRealsUp(node, service string, reals int, timeout time.Duration) {
	p.t.Helper()
	lab.Eventually(p.t, timeout, fmt.Sprintf("%s's service %s has its %d reals up", node, service, reals), func() error {
		return p.lab.Host(node).RealsUp(p.bins, service, reals)
	})
}

// waitPool waits until service on lb1 sends new connections to pool.
func (p *pair) waitPool(service, pool string) time.Duration {
	p.t.Helper()
	return lab.Eventually(p.t, 10*time.Second, service+" uses the "+pool+" pool", func() error {
		ss, err := p.services("lb1")
		if err != nil {
			return err
		}
		if got := ss[service].Pool; got != pool {
			return fmt.Errorf("pool %q", got)
		}
		return nil
	})
}

// onlyFrom checks every answer came from one of the named backends.
func onlyFrom(t *testing.T, res *probe.Result, names ...string) {
	t.Helper()
	allowed := map[string]bool{}
	for _, n := range names {
		allowed[n] = true
	}
	for b, n := range res.Backends {
		if !allowed[b] {
			t.Errorf("%d answers from %s, want only %v (all: %v)", n, b, names, res.Backends)
		}
	}
}

// A real that dies is taken out after fall×interval+timeout; from then on
// no request fails.
func TestBalancerRealFails(t *testing.T) {
	p := balancerPair(t, 2, httpService(""), []string{"http"}, vipHTTP, "http")
	killed := time.Now()
	if err := p.backends[0].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := lab.Eventually(t, 5*time.Second, "backend1 marked down with a reason", func() error {
		ss, err := p.services("lb1")
		if err != nil {
			return err
		}
		for _, r := range ss["http"].Reals {
			if r.Address == "198.18.0.21:80" && !r.Healthy && r.Reason != "" {
				t.Logf("backend1 down: %s", r.Reason)
				return nil
			}
		}
		return fmt.Errorf("reals %+v", ss["http"].Reals)
	})
	bound := checkFall*checkInterval + checkTimeout
	t.Logf("backend1 marked down %v after it died (fall×interval+timeout = %v)", time.Since(killed).Round(time.Millisecond), bound)
	// Checks are spread by up to interval/16 and the first failing one may
	// start up to an interval after the death; polling hactl adds its own.
	if limit := bound + checkInterval + 300*time.Millisecond; took > limit {
		t.Errorf("backend1 marked down after %v, want within %v", took, limit)
	}
	res, err := p.probe(vipHTTP, "http", 100)
	if err != nil {
		t.Fatalf("after the real was taken out: %v", err)
	}
	onlyFrom(t, res, "backend2")
}

// Every real down: the fallback (sorry server) answers.
func TestBalancerFallback(t *testing.T) {
	p := balancerPair(t, 3, httpService(`fallback = "198.18.0.23:80"`), []string{"http"}, vipHTTP, "http")
	for _, b := range p.backends[:2] {
		if err := b.Signal(syscall.SIGUSR1); err != nil { // labsrv: answer 503 from now on
			t.Fatal(err)
		}
	}
	p.waitPool("http", "fallback")
	res, err := p.probe(vipHTTP, "http", 20)
	if err != nil {
		t.Fatal(err)
	}
	onlyFrom(t, res, "backend3")
}

// Zeus master/slave pools: a monitor printing FAIL moves traffic to the
// backup pool, OK brings it back to the primaries.
func TestBalancerBackupPool(t *testing.T) {
	var state []string
	p := newPair(t, scenario.Balancer(3, httpService(scenario.BackupPool), "http"))
	for _, n := range []string{"lb1", "lb2"} {
		h := p.lab.Host(n)
		h.WriteFile("monitor.sh", "#!/bin/sh\ncat "+h.Dir+"/monitor.state\n", 0o755)
		state = append(state, n)
		h.WriteFile("monitor.state", "OK\n", 0o644)
	}
	p.up()
	p.waitPool("http", "primary")

	setMonitor := func(word string) {
		for _, n := range state {
			p.lab.Host(n).WriteFile("monitor.state", word+"\n", 0o644)
		}
	}
	setMonitor("FAIL database unreachable")
	took := p.waitPool("http", "backup")
	t.Logf("monitor FAIL: backup pool in use after %v", took.Round(time.Millisecond))
	res, err := p.probe(vipHTTP, "http", 20)
	if err != nil {
		t.Fatal(err)
	}
	onlyFrom(t, res, "backend3")

	setMonitor("OK")
	p.waitPool("http", "primary")
	res, err = p.probe(vipHTTP, "http", 20)
	if err != nil {
		t.Fatal(err)
	}
	onlyFrom(t, res, "backend1", "backend2")
}

// A reload that adds and re-weights reals under a bounded load loop fails
// no request.
func TestBalancerReloadUnderLoad(t *testing.T) {
	p := balancerPair(t, 3, httpService(""), []string{"http"}, vipHTTP, "http")
	pr := p.lab.StartProbe(p.bins, "client", vipHTTP.String(), probe.Options{Proto: "http", Interval: 10 * time.Millisecond, Timeout: 500 * time.Millisecond, Count: 200})

	lb1 := p.lab.Host("lb1")
	next := scenario.Reweighted(pairConfig(lb1, p.opts))
	lb1.WriteFile("had.toml", next, 0o600)
	out := p.hactl("lb1", "reload")
	t.Logf("hactl reload:\n%s", out)
	testkit.Substrings(t, "hactl reload output", string(out), []string{"real + 198.18.0.23:80", "198.18.0.21:80 weight 1 -> 2"}, nil)
	res, err := pr.Result(30 * time.Second)
	if err != nil {
		t.Fatalf("requests during the reload: %v", err)
	}
	t.Logf("during the reload: %s", res.Summary())
	lab.Eventually(t, 5*time.Second, "backend3 serves after the reload", func() error {
		res, err := p.probe(vipHTTP, "http", 30)
		if err != nil {
			return err
		}
		if res.Backends["backend3"] == 0 {
			return fmt.Errorf("answers %v", res.Backends)
		}
		return nil
	})
}

// A SIP-like UDP round trip through the balancer, checked with SIP OPTIONS.
func TestBalancerUDPSIP(t *testing.T) {
	vipSIP := netip.AddrPortFrom(vip, lab.LabsrvUDPPort)
	sip := scenario.SIPService
	p := balancerPair(t, 2, sip, []string{"sip"}, vipSIP, "udp")
	res, err := p.probe(vipSIP, "udp", 40)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("UDP through the VIP: %s", res.Summary())
	if len(res.Backends) == 0 {
		t.Errorf("no answer named a backend: %v", res.Backends)
	}
}

// A persistent service keeps a client on its real (ipvsadm -p).
func TestBalancerStickyClient(t *testing.T) {
	p := balancerPair(t, 2, httpService(`persistent = "60s"`), []string{"http"}, vipHTTP, "http")
	res, err := p.probe(vipHTTP, "http", 30)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Backends) != 1 {
		t.Errorf("a sticky client was answered by %v, want one backend", res.Backends)
	}
}
