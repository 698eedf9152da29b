package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// syncStatus is the persistence sync part of `hactl status -o json`.
type syncStatus struct {
	Sync *struct {
		Entries int `json:"entries"`
		Peers   []struct {
			Name       string `json:"name"`
			HaveTheirs bool   `json:"have_theirs"`
			HaveOurs   bool   `json:"have_ours"`
		} `json:"peers"`
	} `json:"sync"`
}

// waitSynced waits until node says it holds peer's whole persistence
// table with at least one entry.
func (p *pair) waitSynced(node, peer string) {
	p.t.Helper()
	lab.Eventually(p.t, 10*time.Second, node+" holds "+peer+"'s persistence table", func() error {
		var st syncStatus
		if err := p.statusInto(node, &st); err != nil {
			return err
		}
		if st.Sync == nil {
			return fmt.Errorf("%s status has no sync section", node)
		}
		for _, sp := range st.Sync.Peers {
			if sp.Name == peer && sp.HaveTheirs && st.Sync.Entries > 0 {
				return nil
			}
		}
		return fmt.Errorf("%s sync status: %+v", node, *st.Sync)
	})
}

// waitHTTPServed waits until the client's probes pass again after a move
// (its neighbour entry follows the gratuitous ARP): stickiness is judged
// on answers, not on the outage a move costs.
func (p *pair) waitHTTPServed(node string) {
	p.t.Helper()
	lab.Eventually(p.t, 5*time.Second, "the client is served through "+node, func() error {
		_, err := p.probe(vipHTTP, "http", 3)
		return err
	})
}

// stickyAcrossCrash finds the sticky client's real, crashes lb1 once lb2
// holds its persistence table, and fails the test unless the client keeps
// that real through lb2. It returns the real.
func (p *pair) stickyAcrossCrash() string {
	p.t.Helper()
	first := p.stickyBackend("before any move")
	p.waitSynced("lb2", "lb1")
	p.crashOwner("lb1")
	p.waitHolds("lb2", 5*time.Second)
	p.waitHTTPServed("lb2")
	if got := p.stickyBackend("after the crash failover"); got != first {
		p.t.Fatalf("after the crash failover the client went to %s, want its real %s", got, first)
	}
	return first
}

// stickyBackend probes the persistent service 20 times and returns the
// one backend that answered; more than one fails the test.
func (p *pair) stickyBackend(when string) string {
	p.t.Helper()
	res, err := p.probe(vipHTTP, "http", 20)
	if err != nil {
		p.t.Fatalf("%s: %v", when, err)
	}
	if len(res.Backends) != 1 {
		p.t.Fatalf("%s: the sticky client was answered by %v, want one backend", when, res.Backends)
	}
	for b := range res.Backends {
		return b
	}
	return ""
}

// A sticky client (persistent = "60s", two reals) keeps its real across a
// crash failover (lb2 imported lb1's table as it changed) and, after the
// crashed node returns with an empty table and gets a full resync, across
// a planned switchover back to it.
func TestStickyClientAcrossFailover(t *testing.T) {
	p := balancerPair(t, 2, scenario.HTTPService(`persistent = "60s"`), []string{"http"}, vipHTTP, "http")
	first := p.stickyAcrossCrash()

	p.lab.Plug("lb1")
	p.start("lb1")
	p.waitSynced("lb1", "lb2") // a restarted node gets the whole table
	// An operator moves the group once the returning node's reals pass
	// their checks: a sticky real not yet up here is not used.
	p.waitRealsUp("lb1", "http", 2, 5*time.Second)
	p.hactl("lb1", "takeover", "web")
	p.waitOwner("lb1", 5*time.Second)
	p.waitHTTPServed("lb1")
	if got := p.stickyBackend("after the planned switchover"); got != first {
		t.Errorf("after the planned switchover the client went to %s, want its real %s", got, first)
	}
}

// TestKernelNATStickyAcrossFailover: ipvsadm -p on an LVS-NAT service.
// The kernel keeps the templates in nftables sets on the owner; lb2 holds
// them through the persistence sync and loads them into its own sets when
// it takes over, so a sticky client keeps its real across a crash
// failover, and across a planned switchover back to the restarted lb1. The sticky client is made to land on backend2: rr on a fresh
// node starts at backend1, so without the sync lb2 would move it.
func TestKernelNATStickyAcrossFailover(t *testing.T) {
	p := kernelPairWith(t, pairOptions{Services: scenario.KernelStickyService, Resources: scenario.KernelStickyResources}, "nat")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A second client address takes rr's first turn (backend1).
	const other = "198.18.0.51"
	if out, err := p.lab.Client().Run(ctx, "ip", "addr", "add", other+"/24", "dev", "eth0"); err != nil {
		t.Fatalf("client: second address: %v: %s", err, out)
	}
	for _, h := range p.lab.Backends() { // replies to it through the VIP too, as LVS-NAT needs
		if out, err := h.Run(ctx, "ip", "route", "add", other+"/32", "via", vip.String()); err != nil {
			t.Fatalf("%s: route to %s: %v: %s", h.Name, other, err, out)
		}
	}
	if got := helloFrom(t, p, other); got != "backend1" {
		t.Fatalf("the first connection (from %s) went to %s, want rr's first real backend1", other, got)
	}
	first := stickyReal(t, p, "before the failover")
	if first != "backend2" {
		t.Fatalf("the sticky client went to %s, want backend2 (rr's second turn)", first)
	}
	p.waitSynced("lb2", "lb1")
	p.crashOwner("lb1")
	stickyThrough(t, p, "lb2", first, "after the crash failover")

	// lb1 returns with empty sets and gets lb2's templates, read from
	// lb2's kernel, in a full resync; a planned move back keeps the real.
	p.lab.Plug("lb1")
	// The crashed had left its table; the new one removes it at start
	// (it holds nothing until it takes a group).
	if got, err := hasTable(p, "lb1", "ip"); err != nil || !got {
		t.Errorf("after SIGKILL: lb1's stale table ip hapair present %v (%v), want left behind", got, err)
	}
	p.start("lb1")
	if got, err := hasTable(p, "lb1", "ip"); err != nil || got {
		t.Errorf("after the restart as standby: table ip hapair present %v (%v), want the stale one removed", got, err)
	}
	p.waitSynced("lb1", "lb2")
	p.waitRealsUp("lb1", "nat", 2, 10*time.Second)
	p.hactl("lb1", "takeover", "web")
	stickyThrough(t, p, "lb1", first, "after the planned switchover back")
}

// stickyThrough waits (5s each) for node to hold the group and serve the
// client, then fails t unless the sticky client still reaches its real
// first; when says after what, for the messages.
func stickyThrough(t *testing.T, p *pair, node, first, when string) {
	t.Helper()
	p.waitHolds(node, 5*time.Second)
	lab.Eventually(t, 5*time.Second, "the client is served through "+node, func() error {
		_, err := hello(p, "")
		return err
	})
	if got := stickyReal(t, p, when); got != first {
		t.Errorf("%s to %s the sticky client went to %s, want its real %s", when, node, got, first)
	}
}

// stickyReal opens 10 connections from the client's own address and
// returns the one real that answered; more than one fails the test.
func stickyReal(t *testing.T, p *pair, when string) string {
	t.Helper()
	seen := map[string]int{}
	for range 10 {
		name, err := hello(p, "")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		seen[name]++
	}
	if len(seen) != 1 {
		t.Fatalf("%s: the sticky client went to %v, want one real", when, seen)
	}
	for name := range seen {
		return name
	}
	return ""
}

func helloFrom(t *testing.T, p *pair, local string) string {
	t.Helper()
	name, err := hello(p, local)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// hello connects from the client (from address local when set) to the
// nat service and returns the real's name from labsrv's greeting.
func hello(p *pair, local string) (string, error) {
	var name string
	err := lab.InNetns(p.lab.Client().Netns, func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		c, err := d.Dial("tcp4", vipTCP.String())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		l, err := bufio.NewReader(c).ReadString('\n')
		name = strings.TrimSpace(l)
		return err
	})
	return name, err
}
