package chaos

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

const authkeys = "auth 1\n1 sha256 chaos-test-secret-that-is-long-enough\n"

var (
	vip    = lab.VIP
	vipTCP = netip.AddrPortFrom(vip, lab.LabsrvTCPPort)
)

// pairOpts vary the generated config.
type pairOpts struct {
	keepalive time.Duration // deadtime is 4× (DESIGN.md's loss figure)
	ping      string        // ping node address, "" = none
	weight    int           // weight of the second real (0 = 1)
	normal    bool          // realtime = false: heartbeat threads at normal priority
}

func (o pairOpts) deadtime() time.Duration { return 4 * o.keepalive }

// config is node h's had.toml.
func config(h *lab.Host, o pairOpts) string { return configText(h.Dir, h.HadSocket(), o) }

// configText is the config of a node whose directory is dir and control
// socket is socket: the e2e scenarios' [cluster] and [garp] tables, heartbeat links
// (multicast on eth0, unicast on the heartbeat LAN) and TCP service on the
// backends, under a VIP, with the chaos timing.
func configText(dir, socket string, o pairOpts) string {
	ping := ""
	if o.ping != "" {
		ping = scenario.Ping(o.ping)
	}
	service := scenario.Service{Name: "tcp", Port: 9000, Check: `type = "connect"`,
		Reals: fmt.Sprintf(`{ address = "198.18.0.21:9000" }, { address = "198.18.0.22:9000", weight = %d }`, max(o.weight, 1))}
	cluster := scenario.Cluster{Name: "chaos", ID: 15, Keepalive: o.keepalive, Deadtime: o.deadtime(), Initdead: time.Second,
		Keys: fmt.Sprintf("realtime = %t\n", !o.normal), Dir: dir, Socket: socket}
	return fmt.Sprintf(`%s
%s
%s%s[[group]]
name = "web"
preferred = "lb1"
resources = [
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
  { kind = "balancer", services = ["tcp"] },
]

%s`, cluster, scenario.GARP, scenario.Links(`lb1 = "198.18.1.11", lb2 = "198.18.1.12"`), ping, service)
}

// pair is a lab with had on lb1 and lb2.
type pair struct {
	t    *testing.T
	lab  *lab.Lab
	bins lab.Binaries
	o    pairOpts
	had  map[string]*lab.Proc
	logs map[string]string // output of earlier had processes per node (restarts)
}

func newPair(t *testing.T, o pairOpts) *pair {
	t.Helper()
	bins := lab.BuildBinaries(t)
	l := lab.New(t, lab.Options{HeartbeatLAN: true})
	l.StartLabsrv(bins)
	p := &pair{t: t, lab: l, bins: bins, o: o, had: map[string]*lab.Proc{}, logs: map[string]string{}}
	p.start("lb1")
	p.start("lb2")
	p.waitSole("lb1", 15*time.Second)
	// Scenarios count failed requests from here on: wait until every real
	// passed its first health check on both nodes (five good probes can
	// come from one real: CI's churn then disabled the only real up, and a
	// connection was reset) and five probes in a row succeed.
	if _, err := lab.WaitFor(15*time.Second, func() error {
		for _, n := range []string{"lb1", "lb2"} {
			if err := l.Host(n).RealsUp(bins, "tcp", len(l.Backends())); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("the reals are not up: %v", err)
	}
	if _, err := lab.WaitFor(15*time.Second, func() error {
		_, err := p.lab.Probe(bins, "client", vipTCP.String(),
			probe.Options{Proto: "tcp", Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond, Count: 5})
		return err
	}); err != nil {
		t.Fatalf("the client is not served through the VIP: %v", err)
	}
	return p
}

func (p *pair) start(node string) {
	p.t.Helper()
	if old := p.had[node]; old != nil {
		p.logs[node] += old.Output()
	}
	h := p.lab.Host(node)
	p.had[node] = h.StartHad(p.bins, config(h, p.o), authkeys)
	lab.Eventually(p.t, 10*time.Second, node+" answers hactl status", func() error {
		_, err := p.status(node)
		return err
	})
}

// output is everything had wrote on node, across restarts.
func (p *pair) output(node string) string { return p.logs[node] + p.had[node].Output() }

type status struct {
	Node   string `json:"node"`
	Groups []struct {
		Name  string `json:"name"`
		Owner string `json:"owner"`
		State string `json:"state"`
	} `json:"groups"`
	Peers []struct {
		Name   string `json:"name"`
		Alive  bool   `json:"alive"`
		OneWay string `json:"one_way"`
	} `json:"peers"`
	Links []linkStatus `json:"links"`
}

type linkStatus struct {
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Sent     uint64            `json:"sent"`
	Received uint64            `json:"received"`
	Drops    map[string]uint64 `json:"drops"`
}

// link returns the status of the link of kind ("mcast", "ucast").
func (s *status) link(kind string) linkStatus {
	for _, l := range s.Links {
		if l.Kind == kind {
			return l
		}
	}
	return linkStatus{}
}

func (p *pair) status(node string) (*status, error) {
	var st status
	if err := p.lab.Host(node).Status(p.bins, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (p *pair) holders() []string {
	p.t.Helper()
	return p.lab.MustHolders(p.t, vip)
}

// waitSole waits until node alone holds the VIP and says it is master.
func (p *pair) waitSole(node string, timeout time.Duration) time.Duration {
	p.t.Helper()
	d, err := lab.WaitFor(timeout, func() error { return p.sole(node) })
	if err != nil {
		p.t.Fatalf("%s alone holds the VIP within %v: %v", node, timeout, err)
	}
	return d
}

func (p *pair) sole(node string) error {
	if h, err := p.lab.SoleHolder(vip); err != nil || h != node {
		return fmt.Errorf("want %s alone: %v %v", node, h, err)
	}
	st, err := p.status(node)
	if err != nil {
		return err
	}
	for _, g := range st.Groups {
		if g.Name == "web" && g.State == "master" {
			return nil
		}
	}
	return fmt.Errorf("%s status: %+v", node, st.Groups)
}

// owner is the one node holding the VIP, or "" with an error.
func (p *pair) owner() (string, error) { return p.lab.SoleHolder(vip) }

// probe starts the client probing the VIP every 10 ms for at most d.
func (p *pair) probe(d time.Duration) *lab.ProbeProc { return p.probeTarget(vipTCP.String(), d) }

// probeTarget starts the client probing target ("address:port") like probe.
func (p *pair) probeTarget(target string, d time.Duration) *lab.ProbeProc {
	n := int(d/(10*time.Millisecond)) + 1
	return p.lab.StartProbe(p.bins, "client", target,
		probe.Options{Proto: "tcp", Interval: 10 * time.Millisecond, Timeout: probeTimeout, Count: n, Duration: d})
}

// probeTimeout is how long each of the client's attempts waits.
const probeTimeout = 100 * time.Millisecond

func (p *pair) kill(node string) {
	p.t.Helper()
	if err := p.had[node].Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("SIGKILL had on %s: %v", node, err)
	}
	p.had[node].Wait(5 * time.Second)
}

// count counts log lines containing every one of subs.
func count(log string, subs ...string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			n++
		}
	}
	return n
}
