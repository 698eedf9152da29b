package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// Bounds of every wait; a step that does not finish in its bound fails the demo.
const (
	startBound    = 10 * time.Second // had answering, first owner, reals healthy
	takeoverBound = 5 * time.Second  // the VIP on the other node after the event
	probeLeadIn   = 500 * time.Millisecond
)

// probeOpts is the client's loop across an event: a new HTTP connection to
// the VIP every 10ms, 300 of them (3s), each bounded at 100ms.
var probeOpts = probe.Options{Proto: "http", Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond, Count: 300}

type demo struct {
	t     *demoT
	start time.Time
	bins  lab.Binaries
	lab   *lab.Lab
	had   map[string]*lab.Proc
	procs int // processes started in the lab
}

func newDemo(t *demoT) *demo {
	return &demo{t: t, start: time.Now(), had: map[string]*lab.Proc{}}
}

// indent prints text indented under the last timeline line.
func (d *demo) indent(text string) {
	if d.t.interrupted.Load() != 0 {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line = strings.TrimRight(line, " "); line == "" {
			fmt.Println()
			continue
		}
		fmt.Printf("    %s\n", line)
	}
}

// say prints one timeline line, stamped with the time since the start.
func (d *demo) say(format string, args ...any) { d.sayAt(time.Now(), format, args...) }

// sayAt prints a line about something that happened at an earlier time
// (a takeover, known once the client's probes are in), stamped with it.
func (d *demo) sayAt(at time.Time, format string, args ...any) {
	if d.t.interrupted.Load() != 0 {
		return // the cleanup is running: what this goroutine sees now is the lab going away
	}
	fmt.Printf("[%6.2fs] %s\n", at.Sub(d.start).Seconds(), fmt.Sprintf(format, args...))
}

func (d *demo) run() {
	d.bins = lab.BuildBinaries(d.t)
	d.say("built had, hactl, labsrv and labprobe")

	d.lab = lab.New(d.t, lab.Options{HeartbeatLAN: true})
	d.procs += len(d.lab.StartLabsrv(d.bins))
	d.say("lab up: lb1 %s, lb2 %s, backend1 %s and backend2 %s (labsrv), client %s; heartbeats on the LAN and on %s",
		d.host("lb1").Addr, d.host("lb2").Addr, d.host("backend1").Addr, d.host("backend2").Addr, d.lab.Client().Addr, lab.HeartbeatLAN)

	d.startHad("lb1")
	d.startHad("lb2")
	d.say("had started on lb1 and lb2 (keepalive %v, deadtime %v; VIP %s, HTTP balancer on %s)", keepalive, deadtime, vip, service)

	d.waitAlone("lb1", startBound)
	backends := d.waitServed()
	d.say("lb1 owns %s (hactl status: master); the client gets answers from %s", vip, strings.Join(backends, ", "))

	d.crash("lb1", "lb2")

	// The crashed node's namespace kept the VIP, as a hung machine's
	// kernel would: had must remove it at start, not trust it.
	stale, err := d.lab.HasAddr("lb1", vip)
	if err != nil {
		d.t.Fatal(err)
	}
	d.lab.Plug("lb1")
	d.startHad("lb1")
	d.waitStandby("lb1", "lb2")
	dropped := ""
	if stale {
		dropped = " it removed the stale copy of the VIP its crash left behind;"
	}
	d.say("lb1 is back (cables plugged, had restarted):%s lb2 keeps %s (auto_failback off)", dropped, vip)

	d.standby("lb2", "lb1")

	out, err := d.host("lb1").Hactl(d.bins, "status")
	if err != nil {
		d.t.Fatalf("hactl status on lb1: %v", err)
	}
	d.say("hactl status on lb1:")
	d.indent(string(out))

	nss := d.namespaces()
	if err := d.lab.Close(); err != nil {
		d.t.Fatalf("cleaning up the lab: %v", err)
	}
	if left := d.namespaces(); left != 0 {
		d.t.Fatalf("cleaning up the lab: %d namespaces left", left)
	}
	d.say("cleaned up: %d processes stopped, %d namespaces removed with their links", d.procs, nss)
}

// crash kills had on owner with SIGKILL and unplugs owner's cables, as a
// machine that dies takes its heartbeats and its VIP with it (DESIGN.md's
// crash failover), and measures peer's takeover.
func (d *demo) crash(owner, peer string) {
	pr := d.startProbe()
	d.say("SIGKILL had on %s and unplug its cables (a crash)", owner)
	event := time.Now()
	if err := d.had[owner].Signal(syscall.SIGKILL); err != nil {
		d.t.Fatal(err)
	}
	d.lab.Unplug(owner)
	// The dead owner's namespace still carries the VIP: wait for peer to
	// have it, whoever else does.
	bound := d.waitBound(peer, event, func(hs []string) bool { return slices.Contains(hs, peer) })
	m := d.result(pr, event, bound)
	d.sayAt(event.Add(m.Took), "%s took over %s after %d ms (VIP bound after %d ms, client answered after %d ms); the client saw %d of %d probes fail (longest outage %d ms)",
		peer, vip, ms(m.Took), ms(m.Bound), ms(m.Served), m.Failed, m.Sent, ms(m.Longest))
	d.noteStall(m)
}

// standby runs `hactl standby` on owner, which hands the group to peer
// with a leaving packet, and measures the switchover.
func (d *demo) standby(owner, peer string) {
	pr := d.startProbe()
	d.say("hactl standby on %s (planned switchover)", owner)
	event := time.Now()
	if out, err := d.host(owner).Hactl(d.bins, "standby", group); err != nil {
		d.t.Fatalf("hactl standby %s on %s: %v: %s", group, owner, err, out)
	}
	bound := d.waitBound(peer, event, func(hs []string) bool { return len(hs) == 1 && hs[0] == peer })
	m := d.result(pr, event, bound)
	served := "the client was never cut off"
	if m.Served > 0 {
		served = fmt.Sprintf("client answered after %d ms", ms(m.Served))
	}
	d.sayAt(event.Add(m.Took), "%s took over %s after %d ms (VIP bound after %d ms, %s); the client saw %d of %d probes fail",
		peer, vip, ms(m.Took), ms(m.Bound), served, m.Failed, m.Sent)
	d.noteStall(m)
}

// stallNote is the gap between two probes past which the client's figures
// are called rough: five intervals.
var stallNote = 5 * probeOpts.Interval

// noteStall says so when the client's probe loop was not scheduled for a
// while: on a busy machine the figures are rough (an outage may have gone
// unseen, or a probe timed out for want of CPU).
func (d *demo) noteStall(m move) {
	if m.Stall < stallNote {
		return
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			load = fmt.Sprintf(", load average %s on %d CPUs", f[0], runtime.NumCPU())
		}
	}
	d.indent(fmt.Sprintf("note: the client's probe loop stalled for %d ms (it probes every %d ms%s): this machine is busy, so these figures are rough",
		ms(m.Stall), ms(probeOpts.Interval), load))
}

// startProbe starts the client's probe loop and lets it run a moment, so
// the event falls inside it.
func (d *demo) startProbe() *lab.ProbeProc {
	pr := d.lab.StartProbe(d.bins, "client", service.String(), probeOpts)
	d.procs++
	time.Sleep(probeLeadIn) // the lead-in is a measurement window, not a wait for a condition
	return pr
}

// waitBound waits until holders (the nodes with the VIP) satisfies ok and
// node says it is master, and returns when node bound the VIP: had's own
// takeover timeline when it is after the event, else when the wait saw it.
func (d *demo) waitBound(node string, event time.Time, ok func([]string) bool) time.Time {
	var st *status
	took, err := lab.WaitFor(takeoverBound, func() error {
		hs, err := d.lab.Holders(vip)
		if err != nil {
			return err
		}
		if !ok(hs) {
			return fmt.Errorf("VIP held by %v", hs)
		}
		if st, err = d.status(node); err != nil {
			return err
		}
		if g := st.group(group); g == nil || g.State != "master" {
			return fmt.Errorf("%s is not master: %+v", node, st.Groups)
		}
		return nil
	})
	if err != nil {
		d.t.Fatalf("no takeover: %s did not take %s within %v: %v", node, vip, takeoverBound, err)
	}
	if tl := st.group(group).LastTakeover; tl != nil && tl.Running.After(event) {
		return tl.Running
	}
	return event.Add(took)
}

// result waits for the probe and measures the move from event until the
// VIP was bound (bound) and the client got answers again.
func (d *demo) result(pr *lab.ProbeProc, event, bound time.Time) move {
	res, err := pr.Result(probeOpts.Duration + 10*time.Second)
	if res == nil {
		d.t.Fatalf("client probe: %v", err)
	}
	m, err := measure(event, bound, res)
	if err != nil {
		d.t.Fatalf("%v (%s)", err, res.Summary())
	}
	if m.Front > 0 {
		d.t.Fatalf("the client's probes failed before the event (%s)", res.Summary())
	}
	return m
}

// startHad starts had on node and waits until it answers hactl.
func (d *demo) startHad(node string) {
	h := d.host(node)
	d.had[node] = h.StartHad(d.bins, config(d.lab, h), authkeys)
	d.procs++
	if _, err := lab.WaitFor(startBound, func() error { _, err := d.status(node); return err }); err != nil {
		d.t.Fatalf("had on %s does not answer hactl status: %v", node, err)
	}
}

// waitAlone waits until node alone holds the VIP and says it is master.
func (d *demo) waitAlone(node string, timeout time.Duration) {
	_, err := lab.WaitFor(timeout, func() error {
		st, err := d.heldStatus(node, node)
		if err != nil {
			return err
		}
		if g := st.group(group); g == nil || g.State != "master" {
			return fmt.Errorf("%s: %+v", node, st.Groups)
		}
		return nil
	})
	if err != nil {
		d.t.Fatalf("%s does not own %s alone: %v", node, vip, err)
	}
}

// waitServed waits until ten probes in a row reach the service on the VIP
// and both backends answered some (a real is used once its first health
// check passed), and returns the backends' names.
func (d *demo) waitServed() []string {
	var res *probe.Result
	_, err := lab.WaitFor(startBound, func() error {
		var err error
		res, err = d.lab.Probe(d.bins, "client", service.String(), probe.Options{Proto: "http", Interval: 10 * time.Millisecond, Count: 10})
		if err != nil {
			return err
		}
		if len(res.Backends) != len(d.lab.Backends()) {
			return fmt.Errorf("answers per backend %v, want every backend (a real serves once its first check passed)", res.Backends)
		}
		return nil
	})
	if err != nil {
		d.t.Fatalf("the client does not reach %s: %v", service, err)
	}
	var names []string
	for n := range res.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// waitStandby waits until node is standby with owner holding the group and
// the VIP alone, and node's balancer has every real healthy (warm for a
// switchover).
func (d *demo) waitStandby(node, owner string) {
	_, err := lab.WaitFor(startBound, func() error {
		st, err := d.heldStatus(owner, node)
		if err != nil {
			return err
		}
		if g := st.group(group); g == nil || g.Owner != owner || g.State != "standby" {
			return fmt.Errorf("%s: %+v", node, st.Groups)
		}
		if b := st.Balancer; b == nil || b.RealsUp != b.RealsTotal || b.RealsTotal == 0 {
			return fmt.Errorf("%s: balancer %+v", node, st.Balancer)
		}
		return nil
	})
	if err != nil {
		d.t.Fatalf("%s back as standby for %s: %v", node, owner, err)
	}
}

// heldStatus returns node's status once owner alone holds the VIP: the
// first look of waitAlone and waitStandby.
func (d *demo) heldStatus(owner, node string) (*status, error) {
	if err := d.lab.HeldBy(vip, owner); err != nil {
		return nil, err
	}
	return d.status(node)
}

func (d *demo) host(name string) *lab.Host { return d.lab.Host(name) }

// status is the part of `hactl status -o json` the demo reads (the schema
// lives in internal/ctl, which only cmd/ may import).
type status struct {
	Node     string        `json:"node"`
	Groups   []groupStatus `json:"groups"`
	Balancer *struct {
		RealsUp    int `json:"reals_up"`
		RealsTotal int `json:"reals_total"`
	} `json:"balancer"`
}

type groupStatus struct {
	Name         string `json:"name"`
	Owner        string `json:"owner"`
	State        string `json:"state"`
	LastTakeover *struct {
		Running time.Time `json:"running"` // the group's resources ran: the VIP was bound
	} `json:"last_takeover"`
}

// group returns the named group's status, or nil.
func (s *status) group(name string) *groupStatus {
	for i := range s.Groups {
		if s.Groups[i].Name == name {
			return &s.Groups[i]
		}
	}
	return nil
}

func (d *demo) status(node string) (*status, error) {
	var st status
	if err := d.host(node).Status(d.bins, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// namespaces counts the lab's namespaces that exist now.
func (d *demo) namespaces() int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		d.t.Fatalf("ip netns list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, d.lab.ID+"-") {
			n++
		}
	}
	return n
}
