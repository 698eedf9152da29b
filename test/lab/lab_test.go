package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab/probe"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestLab builds the default lab with a heartbeat LAN and checks
// connectivity, every fault and its healing, in one lab (a lab costs
// processes; each step restores what it changed).
func TestLab(t *testing.T) {
	l := New(t, Options{HeartbeatLAN: true})
	p := Build(t, PkgLabsrv, PkgLabprobe)
	bins := Binaries{Labsrv: p[0], Labprobe: p[1]}

	// Every host answers on LAN; lb nodes on the heartbeat LAN too.
	var srvs []*Proc
	for _, h := range l.Hosts() {
		srvs = append(srvs, h.Start([]string{bins.Labsrv, "-name", h.Name, "-http", "0"}))
	}
	reach := func(from string, to netip.Addr) error {
		_, err := l.Probe(bins, from, fmt.Sprintf("%s:%d", to, LabsrvTCPPort), probe.Options{Count: 1, Timeout: 300 * time.Millisecond})
		return err
	}
	for _, h := range l.Hosts() {
		Eventually(t, 5*time.Second, "labsrv on "+h.Name, func() error { return reach("client", h.Addr) })
	}
	if err := reach("lb2", l.Host("lb1").HBAddr); err != nil {
		t.Fatalf("lb2 -> lb1 on the heartbeat LAN: %v", err)
	}

	// Which backend answered, over HTTP and UDP too.
	for _, proto := range []struct {
		name string
		port int
	}{{"tcp", LabsrvTCPPort}, {"udp", LabsrvUDPPort}} {
		res, err := l.Probe(bins, "client", fmt.Sprintf("%s:%d", l.Host("backend2").Addr, proto.port), probe.Options{Proto: proto.name, Count: 3})
		if err != nil {
			t.Fatalf("%s probe of backend2: %v", proto.name, err)
		}
		if res.Backends["backend2"] != 3 {
			t.Errorf("%s probe of backend2: backends %v, want backend2=3", proto.name, res.Backends)
		}
	}

	// The client learned lb1's MAC while probing it.
	got, err := l.NeighMAC("client", l.Host("lb1").Addr)
	if err != nil || got.String() != l.Host("lb1").MAC("eth0").String() {
		t.Errorf("NeighMAC(client, lb1) = %v, %v, want %v", got, err, l.Host("lb1").MAC("eth0"))
	}
	if _, err := l.NeighMAC("client", VIP); err == nil || !strings.Contains(err.Error(), "no neighbour entry for 198.18.0.100") {
		t.Errorf("NeighMAC(client, VIP) error = %v, want no neighbour entry", err)
	}

	mustFail := func(what string, from string, to netip.Addr) {
		t.Helper()
		if err := reach(from, to); err == nil {
			t.Errorf("%s: %s reached %s", what, from, to)
		}
	}
	mustReach := func(what string, from string, to netip.Addr) {
		t.Helper()
		if err := reach(from, to); err != nil {
			t.Errorf("%s: %s -> %s: %v", what, from, to, err)
		}
	}
	lb1, lb2 := l.Host("lb1"), l.Host("lb2")

	l.Partition("lb1", "lb2")
	mustFail("partition", "lb1", lb2.Addr)
	mustFail("partition", "lb2", lb1.Addr)
	mustFail("partition", "lb2", lb1.HBAddr)
	mustReach("partition", "client", lb1.Addr)
	l.Heal()
	mustReach("healed", "lb2", lb1.Addr)

	l.PartitionLink("lb1", "lb2", "eth1")
	mustFail("link cut", "lb2", lb1.HBAddr)
	mustReach("link cut", "lb2", lb1.Addr)
	l.Heal()

	l.PartitionHeartbeats("lb1", "lb2")
	mustReach("heartbeat cut", "lb2", lb1.Addr) // TCP still flows
	l.Heal()

	l.Loss("client", 100)
	mustFail("100% loss", "client", lb1.Addr)
	mustReach("100% loss elsewhere", "lb2", lb1.Addr)
	l.Loss("client", 0)
	mustReach("loss removed", "client", lb1.Addr)

	l.Unplug("backend1")
	mustFail("unplugged", "client", l.Host("backend1").Addr)
	l.Plug("backend1")
	Eventually(t, 5*time.Second, "backend1 after replug", func() error { return reach("client", l.Host("backend1").Addr) })

	// A process stops on SIGTERM and its exit is seen.
	if err := srvs[0].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srvs[0].Wait(5 * time.Second); err != nil {
		t.Errorf("labsrv after SIGTERM: %v, want exit 0", err)
	}
	if out := srvs[0].Output(); !strings.Contains(out, "stopped") {
		t.Errorf("labsrv output = %q, want it to say stopped", out)
	}

	id := l.ID
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("lab torn down in %v", time.Since(start).Round(time.Millisecond))
	assertGone(t, id)
	for _, p := range srvs {
		if !p.Exited() {
			t.Errorf("pid %d (%s) still running after Close", p.PID, p.Host.Name)
		}
	}
}

// TestHeartbeatRules checks PartitionHeartbeats and LossHeartbeats with UDP
// to port 694: dropped, while UDP to other ports passes.
func TestHeartbeatRules(t *testing.T) {
	l := New(t, Options{Backends: -1})
	p := Build(t, PkgLabsrv, PkgLabprobe)
	bins := Binaries{Labsrv: p[0], Labprobe: p[1]}
	lb1 := l.Host("lb1")
	lb1.Start([]string{bins.Labsrv, "-name", "lb1", "-http", "0", "-tcp", "0", "-udp", fmt.Sprint(HeartbeatPort)})
	lb1.Start([]string{bins.Labsrv, "-name", "lb1", "-http", "0", "-tcp", "0", "-udp", fmt.Sprint(LabsrvUDPPort)})
	hb := fmt.Sprintf("%s:%d", lb1.Addr, HeartbeatPort)
	other := fmt.Sprintf("%s:%d", lb1.Addr, LabsrvUDPPort)
	udp := func(target string) error {
		_, err := l.Probe(bins, "lb2", target, probe.Options{Proto: "udp", Count: 2, Timeout: 300 * time.Millisecond})
		return err
	}
	Eventually(t, 5*time.Second, "udp/694 on lb1", func() error { return udp(hb) })

	for _, tc := range []struct {
		name  string
		fault func()
	}{
		{"PartitionHeartbeats", func() { l.PartitionHeartbeats("lb2", "lb1") }},
		{"LossHeartbeats 100%", func() { l.LossHeartbeats("lb1", 100) }},
	} {
		tc.fault()
		if err := udp(hb); err == nil {
			t.Errorf("%s: udp to %s got through", tc.name, hb)
		}
		if err := udp(other); err != nil {
			t.Errorf("%s: udp to %s: %v, want it to pass", tc.name, other, err)
		}
		l.Heal()
		if err := udp(hb); err != nil {
			t.Errorf("%s healed: udp to %s: %v", tc.name, hb, err)
		}
	}

	// 50% loss on each side of the exchange: most probes and not all fail.
	l.Loss("lb1", 50)
	res, _ := l.Probe(bins, "lb2", other, probe.Options{Proto: "udp", Count: 100, Interval: time.Millisecond, Timeout: 100 * time.Millisecond})
	if res == nil || res.Failed < 30 || res.Failed > 95 {
		t.Errorf("50%% loss: %+v, want 30..95 of 100 failed (75 expected)", res)
	}
}

// TestCleanupAfterFailure runs a lab in a subtest that fails and panics
// nowhere near the lab, and checks from the parent that its namespaces and
// processes are gone.
func TestCleanupAfterFailure(t *testing.T) {
	Require(t)
	p := Build(t, PkgLabsrv)
	var id string
	var proc *Proc
	// A failing subtest's failure propagates to the parent; run the failing
	// part in a separate test binary run instead would be slower. So the
	// subtest "fails" through a fake TB that records the failure but is
	// otherwise the real subtest.
	t.Run("failing", func(t *testing.T) {
		ft := &failingTB{TB: t}
		l := New(ft, Options{Nodes: 1, Backends: -1})
		id = l.ID
		proc = l.Host("client").Start([]string{p[0], "-name", "client"})
		ft.Errorf("deliberate failure")
	})
	if proc == nil {
		t.Fatal("subtest did not start its process")
	}
	assertGone(t, id)
	if !proc.Exited() {
		t.Errorf("pid %d still running after the failed subtest's cleanup", proc.PID)
	}
}

// failingTB records Errorf without failing the real test, so the lab's
// cleanup sees a failed test (and dumps state) while this suite passes.
type failingTB struct {
	testing.TB
	failed bool
}

func (f *failingTB) Errorf(format string, args ...any) {
	f.failed = true
	f.TB.Logf("(deliberate) "+format, args...)
}
func (f *failingTB) Failed() bool { return f.failed || f.TB.Failed() }

func assertGone(t *testing.T, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range listNetns(ctx) {
		if strings.HasPrefix(ns, id) {
			t.Errorf("namespace %s still exists", ns)
		}
	}
	out, err := exec.CommandContext(ctx, "ip", "-br", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "@"+id) {
		t.Errorf("root namespace has a lab link:\n%s", out)
	}
}

// TestRefusesOutsideLab: the probe never targets anything outside the lab.
func TestProbeRefusesOutsideLab(t *testing.T) {
	_, err := probeBound("192.0.2.1:80", probe.Options{})
	if err == nil || !strings.Contains(err.Error(), "outside the lab") {
		t.Errorf("probeBound(192.0.2.1:80) error = %v, want outside the lab", err)
	}
}

func TestMissing(t *testing.T) {
	has := func(string) (string, error) { return "/usr/sbin/x", nil }
	lacks := func(name string) func(string) (string, error) {
		return func(c string) (string, error) {
			if c == name {
				return "", exec.ErrNotFound
			}
			return "/usr/sbin/" + c, nil
		}
	}
	for _, tc := range []struct {
		name string
		euid int
		look func(string) (string, error)
		want string
	}{
		{"root with tools", 0, has, ""},
		{"not root", 1000, has, "root (network namespaces)"},
		{"no nft", 0, lacks("nft"), "nft in PATH"},
		{"no ip, not root", 65534, lacks("ip"), "root (network namespaces), ip in PATH"},
	} {
		if got := missing(tc.euid, tc.look); got != tc.want {
			t.Errorf("%s: missing(%d) = %q, want %q", tc.name, tc.euid, got, tc.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		e2e       string
		wantFatal bool
		wantMsg   string
	}{
		{"", false, "skipping lab test: missing root"},
		{"0", false, "skipping lab test: missing root"},
		{"1", true, "lab: missing root (network namespaces), and HAPAIR_E2E=1 makes that a failure"},
	} {
		fatal, msg := verdict("root (network namespaces)", tc.e2e)
		if fatal != tc.wantFatal || !strings.HasPrefix(msg, tc.wantMsg) {
			t.Errorf("verdict(root, HAPAIR_E2E=%q) = %v, %q, want %v, %q...", tc.e2e, fatal, msg, tc.wantFatal, tc.wantMsg)
		}
	}
}

func TestExitCode(t *testing.T) {
	err := exec.Command("sh", "-c", "exit 3").Run()
	for _, tc := range []struct {
		err  error
		want int
	}{{nil, 0}, {err, 3}, {fmt.Errorf("wrapped: %w", err), 3}, {errors.New("other"), -1}} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestProbeAcrossOutage measures a cut of known length with a background
// probe, the way e2e tests measure a failover.
func TestProbeAcrossOutage(t *testing.T) {
	l := New(t, Options{Nodes: 1, Backends: 1})
	p := Build(t, PkgLabsrv, PkgLabprobe)
	bins := Binaries{Labsrv: p[0], Labprobe: p[1]}
	l.StartLabsrv(bins)
	target := fmt.Sprintf("%s:%d", l.Host("backend1").Addr, LabsrvTCPPort)
	// 2 s of probes around a 300 ms cut: the partition and heal commands
	// themselves can take a few hundred ms on a loaded host (CI: the cut
	// lasted 610 ms and left 1 probe of 100 after it, 39 ok in all).
	pr := l.StartProbe(bins, "client", target, probe.Options{Count: 200, Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond})

	// The probe is a process of its own, which may take longer to start on
	// a loaded host than the whole schedule below: wait for its first
	// connection (a socket to the target in the client's namespace).
	if _, err := WaitFor(5*time.Second, func() error {
		out, err := l.Host("client").RunFor(2*time.Second, "ss", "-Htan", "dst", target)
		if err != nil || len(strings.TrimSpace(string(out))) == 0 {
			return fmt.Errorf("no connection from the probe yet (%v)", err)
		}
		return nil
	}); err != nil {
		t.Fatalf("the probe did not start: %v", err)
	}
	// The cut's length is what is measured, so here sleeping is the point.
	time.Sleep(300 * time.Millisecond)
	l.Partition("client", "backend1")
	time.Sleep(300 * time.Millisecond)
	l.Heal()

	res, err := pr.Result(10 * time.Second)
	if res == nil {
		t.Fatalf("probe: %v", err)
	}
	t.Logf("probe: %s", res.Summary())
	// One outage is the cut. On a loaded machine a single probe may also
	// time out elsewhere; more than one failed probe outside the cut may not.
	cuts := 0
	for _, o := range res.Outages {
		if o.Open {
			t.Fatalf("outages = %+v, want every outage closed", res.Outages)
		}
		if o.Length >= 200*time.Millisecond {
			cuts++
		} else if o.Failed > 1 {
			t.Errorf("outage %+v outside the cut, want at most one failed probe there", o)
		}
	}
	if cuts != 1 {
		t.Fatalf("outages = %+v, want exactly one for the cut", res.Outages)
	}
	if res.Longest < 200*time.Millisecond || res.Longest > time.Second {
		t.Errorf("longest outage = %v, want about 300ms (200ms..1s)", res.Longest)
	}
	if res.Backends["backend1"] != res.OK || res.OK < 80 {
		t.Errorf("backends = %v with %d ok, want backend1 only, at least 80 (2 s of probes, a cut of 1 s at most)", res.Backends, res.OK)
	}
}
