package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// The generated configs live in package scenario, so a unit test checks
// every one of them without a lab.
const (
	keepalive    = scenario.Keepalive
	deadtime     = scenario.Deadtime
	testAuthkeys = scenario.Authkeys
)

type pairOptions = scenario.Options

// pairConfig is the config of node h (scenario.Config in h's directory).
func pairConfig(h *lab.Host, o pairOptions) string {
	return scenario.Config(h.Dir, h.HadSocket(), o)
}

// pair is a running lab with had on lb1 and lb2.
type pair struct {
	t    *testing.T
	lab  *lab.Lab
	bins lab.Binaries
	opts pairOptions
	had  map[string]*lab.Proc
	// backends are the labsrv processes, backend1 first.
	backends []*lab.Proc
}

var vip = netip.MustParseAddr("198.18.0.100")

// vipTCP is the balanced service the client probes.
var vipTCP = netip.AddrPortFrom(vip, lab.LabsrvTCPPort)

func newPair(t *testing.T, o pairOptions) *pair {
	t.Helper()
	bins := lab.BuildBinaries(t)
	l := lab.New(t, lab.Options{HeartbeatLAN: true, Backends: o.Backends, Nodes: o.Nodes, Router: o.Router})
	backends := l.StartLabsrv(bins)
	return &pair{t: t, lab: l, bins: bins, opts: o, had: map[string]*lab.Proc{}, backends: backends}
}

// notifyScript logs keepalived-style arguments and hapair's environment.
const notifyScript = `#!/bin/sh
echo "$HAPAIR_GROUP $HAPAIR_STATE $HAPAIR_NODE args=$* reason=$HAPAIR_REASON" >> "$(dirname "$0")/notify.log"
`

func (p *pair) start(node string) *lab.Proc {
	p.t.Helper()
	h := p.lab.Host(node)
	if !scenario.Known(p.opts) {
		p.t.Fatalf("pair options %+v are not in scenario.All: add them there, so the unit test checks this config", p.opts)
	}
	if p.opts.Notify {
		h.WriteFile("notify.sh", notifyScript, 0o755)
	}
	proc := h.StartHad(p.bins, pairConfig(h, p.opts), testAuthkeys)
	p.had[node] = proc
	lab.Eventually(p.t, 10*time.Second, node+" answers hactl status", func() error {
		_, err := p.status(node)
		return err
	})
	return proc
}

func (p *pair) status(node string) (*status, error) {
	var st status
	if err := p.statusInto(node, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// statusInto decodes node's `hactl status -o json` into v.
func (p *pair) statusInto(node string, v any) error { return p.lab.Host(node).Status(p.bins, v) }

// hactl runs hactl with args on node and returns its output; it fails
// the test when hactl fails, naming the command, the node and the output.
func (p *pair) hactl(node string, args ...string) []byte {
	p.t.Helper()
	out, err := p.lab.Host(node).Hactl(p.bins, args...)
	if err != nil {
		p.t.Fatalf("hactl %s on %s: %v: %s", strings.Join(args, " "), node, err, out)
	}
	return out
}

// holders returns the nodes holding the VIP.
func (p *pair) holders() []string {
	p.t.Helper()
	return p.lab.MustHolders(p.t, vip)
}

// natGateway makes lb1 and lb2 LVS-NAT directors for the reals: both
// forward and send no ICMP redirects, and every backend routes its default
// and the client (with routeOpts, ip-route(8) options, added) through the
// VIP, as LVS-NAT reals use the director as their gateway.
func (p *pair) natGateway(routeOpts string) {
	p.t.Helper()
	for _, n := range []string{"lb1", "lb2"} {
		p.lab.Host(n).Sh(p.t, "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0")
	}
	for _, h := range p.lab.Backends() {
		h.Sh(p.t, fmt.Sprintf(`sysctl -qw net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.eth0.accept_redirects=0
ip route replace default via %s
ip route add %s/32 via %s %s`, vip, p.lab.Client().Addr, vip, routeOpts))
	}
}

// runningPair is newPair with had started on lb1 and lb2 and lb1, the
// preferred node, holding the VIP: where most tests begin.
func runningPair(t *testing.T, o pairOptions) *pair {
	t.Helper()
	p := newPair(t, o)
	p.up()
	return p
}

// up starts had on lb1 and lb2 and waits until lb1, the preferred node,
// holds the VIP: runningPair for a test with setup of its own before.
func (p *pair) up() {
	p.t.Helper()
	p.start("lb1")
	p.start("lb2")
	p.waitOwner("lb1", 10*time.Second)
}

// waitOwner waits until exactly node holds the VIP and says it is master.
func (p *pair) waitOwner(node string, timeout time.Duration) time.Duration {
	p.t.Helper()
	return lab.Eventually(p.t, timeout, node+" alone holds the VIP and is master", func() error { return p.soleMaster(node, "web") })
}

// keepsVIP fails the test unless node alone holds the VIP for the whole
// of d, sampled every 50 ms; when says in which situation.
func (p *pair) keepsVIP(node string, d time.Duration, when string) {
	p.t.Helper()
	lab.Consistently(p.t, d, 50*time.Millisecond, when+": "+node+" alone holds the VIP", func() error { return p.lab.HeldBy(vip, node) })
}

// soleMaster is nil when node alone holds the VIP and says it is master
// of group.
func (p *pair) soleMaster(node, group string) error {
	if err := p.lab.HeldBy(vip, node); err != nil {
		return err
	}
	return p.master(node, group)
}

// master is nil when node says it is master of group.
func (p *pair) master(node, group string) error {
	st, err := p.status(node)
	if err != nil {
		return err
	}
	if !st.master(group) {
		return fmt.Errorf("%s status: %+v", node, st.Groups)
	}
	return nil
}

// clientNeighIs waits until the client's neighbour entry for the VIP
// names node's eth0 MAC: node answered ARP or sent gratuitous ARP.
func (p *pair) clientNeighIs(node string, timeout time.Duration) {
	p.t.Helper()
	want := p.lab.Host(node).MAC("eth0").String()
	lab.Eventually(p.t, timeout, "the client's neighbour entry for the VIP names "+node, func() error {
		mac, err := p.lab.NeighMAC("client", vip)
		if err != nil {
			return err
		}
		if mac.String() != want {
			return fmt.Errorf("client has %v, want %s's %s", mac, node, want)
		}
		return nil
	})
}

// isMaster runs `hactl is-master web` on node and returns its exit code
// and output.
func (p *pair) isMaster(node string) (int, string) {
	out, err := p.lab.Host(node).Hactl(p.bins, "is-master", "web")
	return lab.ExitCode(err), strings.TrimSpace(string(out))
}

// waitServed waits until five probes in a row from the client reach the
// balanced service on the VIP (reals become usable after their first
// health check passes).
func (p *pair) waitServed(timeout time.Duration) time.Duration {
	p.t.Helper()
	return lab.Eventually(p.t, timeout, "the client reaches the service on the VIP", func() error {
		_, err := p.lab.Probe(p.bins, "client", vipTCP.String(), probeOpts(5, 20*time.Millisecond))
		return err
	})
}

func probeOpts(count int, interval time.Duration) probe.Options {
	return probe.Options{Proto: "tcp", Interval: interval, Timeout: 200 * time.Millisecond, Count: count}
}

// status is the part of `hactl status -o json` the tests read (the schema
// lives in internal/ctl, which tests outside cmd cannot import).
type status struct {
	Node        string `json:"node"`
	Maintenance bool   `json:"maintenance"`
	Groups      []struct {
		Name   string `json:"name"`
		Owner  string `json:"owner"`
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"groups"`
	Links []struct {
		Name  string            `json:"name"`
		Drops map[string]uint64 `json:"drops"`
	} `json:"links"`
}

func (s *status) master(group string) bool {
	for _, g := range s.Groups {
		if g.Name == group {
			return g.Owner == s.Node && g.State == "master"
		}
	}
	return false
}

func (s *status) owner(group string) string {
	for _, g := range s.Groups {
		if g.Name == group {
			return g.Owner
		}
	}
	return ""
}

func (s *status) drops(reason string) uint64 {
	var n uint64
	for _, l := range s.Links {
		n += l.Drops[reason]
	}
	return n
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
