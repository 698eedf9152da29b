package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// Timing of the pair in every e2e test: fast enough that tests are short,
// slow enough for -race binaries on a loaded 2-core machine.
const (
	keepalive = 100 * time.Millisecond
	deadtime  = 500 * time.Millisecond
)

const testAuthkeys = "auth 1\n1 sha256 e2e-test-secret-that-is-long-enough\n"

// pairOptions vary the generated config.
type pairOptions struct {
	AutoFailback bool
	FailbackHold time.Duration
	Initdead     time.Duration // default 2s
	Ping         string        // ping node address, "" = none
	ExtraGroup   string        // extra TOML appended to the group's resources
	Links        string        // "" = mcast on eth0 + ucast on eth1
	Notify       bool          // run HOSTDIR/notify.sh on every transition (writes notify.log)
	Backends     int           // lab backends running labsrv (default 2)
	// Services replaces the default [[service]] "tcp"; BalancerServices
	// names the services the group's balancer resource activates.
	Services         string
	BalancerServices []string
}

// pairConfig is the config of node h: identical on both nodes but for the
// socket and state directory, which live in the host's own directory.
func pairConfig(h *lab.Host, o pairOptions) string {
	initdead := o.Initdead
	if initdead == 0 {
		initdead = 2 * time.Second
	}
	hold := o.FailbackHold
	if hold == 0 {
		hold = 2 * deadtime
	}
	var b strings.Builder
	fmt.Fprintf(&b, `[cluster]
name = "e2e"
id = 42
nodes = ["lb1", "lb2"]
authkeys = "authkeys"
keepalive = "%s"
warntime = "%s"
deadtime = "%s"
initdead = "%s"
auto_failback = %v
failback_hold = "%s"
state_dir = "%s/state"
socket = "%s"
%s
[garp]
count = 3
interval = "50ms"
second_burst = "1s"

`, keepalive, (keepalive+deadtime)/2, deadtime, initdead, o.AutoFailback, hold, h.Dir, h.HadSocket(), notifyLine(o))
	if o.Links != "" {
		b.WriteString(o.Links)
	} else {
		b.WriteString(`[[link]]
kind = "mcast"
interface = "eth0"
group = "239.255.0.94"

[[link]]
kind = "ucast"
peers = { lb1 = "198.18.1.11", lb2 = "198.18.1.12" }

`)
	}
	if o.Ping != "" {
		// Weight 1: losing the ping node barely lowers the priority, so
		// what the tests see is the isolation rule, not a priority change.
		fmt.Fprintf(&b, "[[ping]]\naddress = %q\ninterval = \"100ms\"\ntimeout = \"100ms\"\nweight = 1\n\n", o.Ping)
	}
	services, names := o.Services, o.BalancerServices
	if services == "" {
		services, names = defaultService, []string{"tcp"}
	}
	fmt.Fprintf(&b, `[[group]]
name = "web"
preferred = "lb1"
resources = [
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
  { kind = "balancer", services = %q },
%s]

%s`, names, o.ExtraGroup, services)
	return strings.ReplaceAll(b.String(), "HOSTDIR", h.Dir)
}

const defaultService = `[[service]]
name = "tcp"
listen = "198.18.0.100:9000"
scheduler = "rr"
check = { type = "connect", interval = "200ms", timeout = "100ms", rise = 1, fall = 2 }
reals = [ { address = "198.18.0.21:9000" }, { address = "198.18.0.22:9000" } ]
`

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
	l := lab.New(t, lab.Options{HeartbeatLAN: true, Backends: o.Backends})
	backends := l.StartLabsrv(bins)
	return &pair{t: t, lab: l, bins: bins, opts: o, had: map[string]*lab.Proc{}, backends: backends}
}

func notifyLine(o pairOptions) string {
	if !o.Notify {
		return ""
	}
	return "notify = \"HOSTDIR/notify.sh\"\n"
}

// notifyScript logs keepalived-style arguments and hapair's environment.
const notifyScript = `#!/bin/sh
echo "$HAPAIR_GROUP $HAPAIR_STATE $HAPAIR_NODE args=$* reason=$HAPAIR_REASON" >> "$(dirname "$0")/notify.log"
`

func (p *pair) start(node string) *lab.Proc {
	p.t.Helper()
	h := p.lab.Host(node)
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
	out, err := p.lab.Host(node).Hactl(p.bins, "status", "-o", "json")
	if err != nil {
		return nil, fmt.Errorf("hactl status on %s: %v: %s", node, err, out)
	}
	var st status
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("hactl status -o json on %s: %v: %s", node, err, out)
	}
	return &st, nil
}

// holders returns the nodes holding the VIP.
func (p *pair) holders() []string {
	p.t.Helper()
	hs, err := p.lab.Holders(vip)
	if err != nil {
		p.t.Fatalf("reading VIP holders: %v", err)
	}
	return hs
}

// waitOwner waits until exactly node holds the VIP and says it is master.
func (p *pair) waitOwner(node string, timeout time.Duration) time.Duration {
	p.t.Helper()
	return lab.Eventually(p.t, timeout, node+" alone holds the VIP and is master", func() error {
		hs, err := p.lab.Holders(vip)
		if err != nil {
			return err
		}
		if len(hs) != 1 || hs[0] != node {
			return fmt.Errorf("VIP held by %v", hs)
		}
		st, err := p.status(node)
		if err != nil {
			return err
		}
		if !st.master("web") {
			return fmt.Errorf("%s status: %+v", node, st.Groups)
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
