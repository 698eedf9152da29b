package agent_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/agent"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock/clocktest"
	"github.com/hapair/hapair/internal/testkit"
)

// fakeNet connects agents: every Send is queued, synchronously, on the
// Received channel of every other connected agent, so a Sync after it
// sees the packet handled.
type fakeNet struct {
	mu     sync.Mutex
	agents map[string]*agent.Agent
	inbox  map[string]chan *wire.Packet
	cut    map[string]bool
	sent   []*wire.Packet
}

type fakeTransport struct {
	n    *fakeNet
	from string
	in   chan *wire.Packet
}

var _ agent.Transport = fakeTransport{}

func (t fakeTransport) Received() <-chan *wire.Packet { return t.in }

func (t fakeTransport) Send(p *wire.Packet) error {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	t.n.sent = append(t.n.sent, p)
	if t.n.cut[t.from] {
		return nil
	}
	for name := range t.n.agents {
		if name != t.from && !t.n.cut[name] {
			q := *p
			q.Groups = slices.Clone(p.Groups)
			select {
			case t.n.inbox[name] <- &q:
			default: // a full inbox loses the packet, as ha/link's backlog does
			}
		}
	}
	return nil
}

// fakeGroups records operations and fails starts on demand.
type fakeGroups struct {
	mu      sync.Mutex
	ops     []string
	failing map[string]error
}

func (g *fakeGroups) Start(ctx context.Context, group string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ops = append(g.ops, "start "+group)
	return g.failing[group]
}

func (g *fakeGroups) Stop(ctx context.Context, group string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ops = append(g.ops, "stop "+group)
	return nil
}

func (g *fakeGroups) Ops() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ops)
}

type node struct {
	a      *agent.Agent
	groups *fakeGroups
	logs   *testkit.Buffer
	stop   context.CancelFunc
	done   chan error
}

type harness struct {
	t     *testing.T
	clock *clocktest.Clock
	net   *fakeNet
	nodes map[string]*node
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	before := runtime.NumGoroutine()
	h := &harness{t: t, clock: clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		net: &fakeNet{agents: map[string]*agent.Agent{}, inbox: map[string]chan *wire.Packet{}, cut: map[string]bool{}}, nodes: map[string]*node{}}
	t.Cleanup(func() {
		for name := range h.nodes {
			h.crash(name)
		}
		testkit.AwaitGoroutines(t, before)
	})
	return h
}

func (h *harness) start(name string, gen uint64, failing map[string]error) *node {
	h.t.Helper()
	n := &node{groups: &fakeGroups{failing: failing}, logs: &testkit.Buffer{}, done: make(chan error, 1)}
	in := make(chan *wire.Packet, 256)
	a, err := agent.New(agent.Config{
		Machine: ha.Config{Self: name, Nodes: []string{"lb1", "lb2"}, Generation: gen,
			Keepalive: 100 * time.Millisecond, Deadtime: 400 * time.Millisecond, Initdead: time.Second,
			FailBackoff: time.Second, Groups: []ha.GroupConfig{{Name: "web", Preferred: "lb1"}}},
		Transport: fakeTransport{h.net, name, in}, Groups: n.groups, Clock: h.clock,
		Logger: slog.New(slog.NewTextHandler(n.logs, nil)),
	})
	if err != nil {
		h.t.Fatalf("agent.New(%s) = %v", name, err)
	}
	n.a = a
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	h.net.mu.Lock()
	h.net.agents[name] = a
	h.net.inbox[name] = in
	delete(h.net.cut, name)
	h.net.mu.Unlock()
	go func() { n.done <- a.Run(ctx) }()
	h.nodes[name] = n
	return n
}

// crash ends a node's agent without a goodbye and cuts it off.
func (h *harness) crash(name string) {
	n := h.nodes[name]
	if n == nil {
		return
	}
	h.net.mu.Lock()
	h.net.cut[name] = true
	delete(h.net.agents, name)
	h.net.mu.Unlock()
	n.stop()
	if err := <-n.done; err != nil {
		h.t.Errorf("Run(%s) = %v, want nil", name, err)
	}
	delete(h.nodes, name)
}

// startPair starts lb1 and lb2 and waits until lb1 (preferred) holds web.
func (h *harness) startPair() (lb1, lb2 *node) {
	h.t.Helper()
	lb1, lb2 = h.start("lb1", 1, nil), h.start("lb2", 1, nil)
	h.advance(50 * time.Millisecond)
	h.waitState("lb1", "web", ha.StateMaster)
	h.waitState("lb2", "web", ha.StateStandby)
	return lb1, lb2
}

// advance moves the fake clock in 10ms steps, letting every agent catch up.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	for step := time.Duration(0); step < d; step += 10 * time.Millisecond {
		h.clock.Advance(10 * time.Millisecond)
		h.sync()
	}
}

// sync waits (bounded) until every agent has handled what is queued and
// group operations in flight have reported back.
func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 { // results of group operations arrive through a goroutine
		for name, n := range h.nodes {
			if err := n.a.Sync(ctx); err != nil {
				h.t.Fatalf("Sync(%s) = %v", name, err)
			}
		}
		runtime.Gosched()
	}
}

// waitState polls (bounded by a wall-clock deadline) for a group state.
func (h *harness) waitState(name, group string, want ha.State) {
	h.t.Helper()
	if testkit.Poll(func() bool { h.sync(); return groupStatus(h.nodes[name].a, group).State == want }) {
		return
	}
	h.t.Fatalf("%s: group %s state = %v, want %v (reason %q)", name, group, groupStatus(h.nodes[name].a, group).State, want,
		groupStatus(h.nodes[name].a, group).Reason)
}

func groupStatus(a *agent.Agent, group string) ha.GroupStatus {
	for _, g := range a.Status().Groups {
		if g.Name == group {
			return g
		}
	}
	return ha.GroupStatus{}
}

func TestFailoverAndSwitchover(t *testing.T) {
	h := newHarness(t)
	lb1, lb2 := h.startPair()

	// Crash the owner: lb2 takes over after deadtime (400ms), not before.
	h.crash("lb1")
	h.advance(300 * time.Millisecond)
	if got := groupStatus(lb2.a, "web").State; got != ha.StateStandby {
		t.Fatalf("lb2 web state 300ms after the crash = %v, want standby (deadtime 400ms)", got)
	}
	h.advance(200 * time.Millisecond)
	h.waitState("lb2", "web", ha.StateMaster)
	if got := groupStatus(lb2.a, "web").Reason; !strings.Contains(got, "resources started") {
		t.Errorf("lb2 web reason = %q, want it to contain %q", got, "resources started")
	}
	if logs := lb2.logs.String(); !strings.Contains(logs, "peer lb1 dead: silent for") || !strings.Contains(logs, "group=web") {
		t.Errorf("lb2 logs lack the dead-peer line with its reason or the group key:\n%s", logs)
	}
	if got := lb2.a.Topics()["dead"]; got != 1 {
		t.Errorf("lb2 Topics()[dead] = %d, want 1 (lb1 died once): %v", got, lb2.a.Topics())
	}

	// lb1 returns with a new generation: auto_failback off, lb2 keeps web.
	lb1 = h.start("lb1", 2, nil)
	h.advance(500 * time.Millisecond)
	h.waitState("lb1", "web", ha.StateStandby)
	h.waitState("lb2", "web", ha.StateMaster)

	// Planned switchover: hactl standby on lb2 moves web within a keepalive.
	ctx := context.Background()
	if err := lb2.a.Standby(ctx, "web"); err != nil {
		t.Fatalf("Standby(web) = %v", err)
	}
	h.advance(10 * time.Millisecond)
	h.waitState("lb1", "web", ha.StateMaster)
	h.waitState("lb2", "web", ha.StateStandby)
	if got, want := lb2.groups.Ops(), []string{"start web", "stop web"}; !slices.Equal(got, want) {
		t.Errorf("lb2 group ops = %v, want %v", got, want)
	}

	// Clean stop of the owner: lb1 leaves, lb2 takes web at once.
	leaveDone := make(chan error, 1)
	go func() { leaveDone <- lb1.a.Leave(ctx) }()
	var leaveErr error
	testkit.WaitFor(t, "Leave to return", func() bool {
		h.sync()
		select {
		case leaveErr = <-leaveDone:
			return true
		default:
			return false
		}
	})
	if leaveErr != nil {
		t.Fatalf("Leave() = %v", leaveErr)
	}
	h.waitState("lb2", "web", ha.StateMaster)
	h.net.mu.Lock()
	leaving, headerOK := false, true
	for _, p := range h.net.sent {
		leaving = leaving || (p.Sender == "lb1" && p.Generation == 2 && p.Flags&wire.FlagLeaving != 0)
		// The transport owns the cluster id and the sequence (ha/link stamps them).
		headerOK = headerOK && p.Seq == 0 && p.ClusterID == 0
	}
	h.net.mu.Unlock()
	if !leaving {
		t.Error("lb1 sent no packet with FlagLeaving")
	}
	if !headerOK {
		t.Error("the agent stamped a cluster id or a sequence number; the transport owns both")
	}
}

// TestWallClockStepChangesNothing: the agent and the machine measure
// keepalive, deadtime and their timers on the monotonic clock, so NTP or
// date -s stepping the wall clock an hour either way moves no group.
func TestWallClockStepChangesNothing(t *testing.T) {
	h := newHarness(t)
	lb1, lb2 := h.startPair()
	for _, step := range []time.Duration{time.Hour, -2 * time.Hour} {
		h.clock.StepWall(step)
		h.advance(time.Second) // more than deadtime (400ms)
		if a, b := groupStatus(lb1.a, "web").State, groupStatus(lb2.a, "web").State; a != ha.StateMaster || b != ha.StateStandby {
			t.Fatalf("after a wall-clock step of %v: lb1 %v, lb2 %v; want master and standby", step, a, b)
		}
	}
	for name, n := range map[string]*node{"lb1": lb1, "lb2": lb2} {
		if logs := n.logs.String(); strings.Contains(logs, " dead:") {
			t.Errorf("%s logged a dead peer after wall-clock steps:\n%s", name, logs)
		}
	}
}

func TestStartFailureReported(t *testing.T) {
	h := newHarness(t)
	h.start("lb1", 1, map[string]error{"web": errors.New("vip 198.18.0.100/24: address in use")})
	lb2 := h.start("lb2", 1, nil)
	h.advance(50 * time.Millisecond)
	h.waitState("lb1", "web", ha.StateFailed)
	h.waitState("lb2", "web", ha.StateMaster)
	got := groupStatus(h.nodes["lb1"].a, "web").Reason
	if !strings.Contains(got, "address in use") {
		t.Errorf("lb1 web reason = %q, want it to name the failed resource", got)
	}
	if st := groupStatus(lb2.a, "web"); st.Owner != "lb2" {
		t.Errorf("lb2 web owner = %q, want lb2", st.Owner)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := agent.New(agent.Config{Machine: ha.Config{Self: "lb1", Nodes: []string{"lb1"}},
		Transport: fakeTransport{in: make(chan *wire.Packet)}, Groups: &fakeGroups{}})
	if err == nil || !strings.Contains(err.Error(), "at least 2 nodes") {
		t.Errorf("New(one node) = %v, want an error about at least 2 nodes", err)
	}
	_, err = agent.New(agent.Config{})
	if err == nil || !strings.Contains(err.Error(), "transport and group runner are required") {
		t.Errorf("New(empty) = %v, want an error naming the missing transport", err)
	}
}

// TestWireVersions: heartbeats carry what the node hears of its peers
// (wire version 2); a peer heard speaking version 1 makes the agent speak
// version 1 (no heard list) until it speaks version 2 again; and a peer
// whose heard list says it does not hear us shows up as deaf in status.
func TestWireVersions(t *testing.T) {
	h := newHarness(t)
	lb1 := h.start("lb1", 1, nil)
	from := func(v1 bool, alive bool) {
		p := &wire.Packet{ClusterID: 7, Sender: "lb2", Generation: 3, Keepalive: 100 * time.Millisecond,
			Groups: []wire.Group{{Name: "web", Priority: 100, State: uint8(ha.StateStandby)}}, Version1: v1}
		if !v1 {
			hd := wire.Heard{Node: "lb1", Generation: 1, Age: 900 * time.Millisecond}
			if alive {
				hd.Flags, hd.Age = wire.HeardAlive, 5*time.Millisecond
			}
			p.Heard = []wire.Heard{hd}
		}
		h.net.inbox["lb1"] <- p
	}
	last := func() *wire.Packet {
		h.net.mu.Lock()
		defer h.net.mu.Unlock()
		return h.net.sent[len(h.net.sent)-1]
	}
	for range 3 {
		from(true, false)
		h.advance(100 * time.Millisecond)
	}
	if p := last(); !p.Version1 || p.Heard != nil {
		t.Errorf("lb1 sends after hearing a version-1 peer: Version1=%v Heard=%v, want version 1 without heard list", p.Version1, p.Heard)
	}
	if logs := lb1.logs.String(); !strings.Contains(logs, "wire version 1") {
		t.Errorf("lb1 did not log the version-1 peer:\n%s", logs)
	}
	for range 6 {
		from(false, true)
		h.advance(100 * time.Millisecond)
	}
	p := last()
	if p.Version1 || len(p.Heard) != 1 || p.Heard[0].Node != "lb2" || p.Heard[0].Generation != 3 || p.Heard[0].Flags != wire.HeardAlive {
		t.Errorf("lb1 sends after hearing a version-2 peer: %+v, want version 2 hearing lb2 gen 3 alive", p)
	}
	for _, ps := range lb1.a.Status().Peers {
		if ps.Deaf != "" {
			t.Errorf("peer %s deaf = %q while it hears us", ps.Name, ps.Deaf)
		}
	}
	for range 3 {
		from(false, false)
		h.advance(100 * time.Millisecond)
	}
	if ps := lb1.a.Status().Peers[0]; !strings.Contains(ps.Deaf, "lb2 has not heard us for") {
		t.Errorf("peer lb2 deaf = %q, want it to say lb2 has not heard us", ps.Deaf)
	}
}

// TestBadReadinessLoggedOnce: a peer whose readiness payload does not
// decode is still heard (its heartbeat counts), and the drop is logged once
// until a valid heartbeat comes.
func TestBadReadinessLoggedOnce(t *testing.T) {
	h := newHarness(t)
	lb1 := h.start("lb1", 1, nil)
	for range 3 {
		h.net.inbox["lb1"] <- &wire.Packet{ClusterID: 7, Sender: "lb2", Generation: 3, Keepalive: 100 * time.Millisecond,
			Groups: []wire.Group{{Name: "web", Priority: 100, State: uint8(ha.StateStandby)}}, Payload: []byte{wire.PayloadReadiness, 2}}
		h.advance(100 * time.Millisecond)
	}
	if n := strings.Count(lb1.logs.String(), "readiness dropped"); n != 1 {
		t.Errorf("readiness drop logged %d times, want once:\n%s", n, lb1.logs.String())
	}
	if ps := lb1.a.Status().Peers[0]; !ps.Alive {
		t.Errorf("peer lb2 with a bad readiness payload: alive = false (%s), want its heartbeats counted", ps.Reason)
	}
}
