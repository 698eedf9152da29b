// Package agent is the I/O shell around the pure ha.Machine: one goroutine
// owns the machine and turns heartbeats, timers, operator commands, check
// results and resource completions into events, and the machine's actions
// into packets, group starts and stops, gratuitous ARP re-announcements,
// notify hooks and log lines. It is hapair's counterpart of Heartbeat's
// heartbeat daemon loop, wrapping the machine the way etcd-raft's node.run
// wraps RawNode.
//
// The clock, the transport (ha/link), the group runner (ha/resource via
// package node) and the announcer (ha/vip) are injected as small interfaces, so
// tests run it on a fake clock with in-memory transports. It must not decide
// anything itself: every decision and its reason comes from package ha.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/realtime"
)

// Transport carries heartbeats on every link; *link.Set satisfies it. It
// is opened before the agent and owns the packet header's cluster id and
// sequence number: Send stamps them, and Received yields only packets that
// passed its checks (MAC, cluster, sender, replay).
type Transport interface {
	// Send seals p (ClusterID and Seq left zero) and sends it on every link.
	Send(p *wire.Packet) error
	// Received is where accepted packets come out; the agent's loop pulls
	// from it, the way wireguard-go's device pulls from its Bind. It is
	// never closed.
	Received() <-chan *wire.Packet
}

// GroupRunner starts and stops resource groups. Start must roll back what it
// started when it fails. The agent never runs two operations on one group at
// once; calls for different groups may overlap.
type GroupRunner interface {
	Start(ctx context.Context, group string) error
	Stop(ctx context.Context, group string) error
}

// Announcer re-sends gratuitous ARP for a group's addresses (optional).
type Announcer interface {
	Announce(group string)
}

// Notifier is told of every group transition, like keepalived's
// notify_master/backup/fault scripts (optional). It runs on the agent
// goroutine: it must not block.
type Notifier interface {
	Notify(group string, state ha.State, reason string)
}

// Config assembles an Agent.
type Config struct {
	Machine   ha.Config   // Self, Nodes, Generation (from ha/generation), timing, groups, checks
	Transport Transport   // required
	Groups    GroupRunner // required
	Announcer Announcer   // optional
	Notifier  Notifier    // optional
	Clock     clock.Clock // default clock.Real{}; tests use clocktest
	Logger    *slog.Logger
	// LateLogEvery limits "peer late" (warntime) lines to one per peer per
	// interval (default 10s); the rest are counted in the next line.
	LateLogEvery time.Duration
	// Realtime runs the loop (heartbeat sends, deadtime decisions) on an OS
	// thread of its own set to SCHED_RR (realtime.Priority), waiting in
	// ppoll(2) with the machine's next timer as its timeout instead of in
	// Go's timers and scheduler, like Heartbeat's `realtime on`: a loaded
	// machine then still sends heartbeats and declares peers dead on time.
	// When the kernel refuses the policy, Run logs it once and goes on at
	// normal priority. It needs the real clock.
	Realtime bool
}

// Agent runs one ha.Machine. Its methods are safe for concurrent use.
type Agent struct {
	cfg    Config
	m      *ha.Machine
	log    *slog.Logger
	events chan ha.Event
	tick   chan struct{}
	calls  chan func()
	done   chan struct{}
	wg     sync.WaitGroup
	ctx    context.Context // for group operations; canceled by Run's end
	cancel context.CancelFunc
	waiter *realtime.Waiter // Realtime: what the loop sleeps in; nil otherwise
	// closeLog flushes the loop's queued log lines (Realtime), after the
	// group operations that may log too have ended; set by Run.
	closeLog func()

	// owned by the loop goroutine
	timer       clock.Timer
	deadline    time.Time           // Realtime: when to tick next (zero: no timer armed)
	in          <-chan *wire.Packet // where accepted packets come from
	lateLogged  map[string]time.Time
	lateHidden  map[string]int
	sendFailed  bool
	idleWaiters []chan struct{}
	v1Peers     map[string]bool // peers last heard speaking wire version 1
	// badReadiness: peers whose last readiness payload did not decode
	badReadiness map[string]bool

	mu     sync.Mutex
	status ha.Status
	topics map[string]uint64 // machine remarks counted by topic
}

// ErrClosed is returned by calls made after Run has ended.
var ErrClosed = errors.New("agent: closed")

// New checks cfg and builds an Agent; Run starts it.
func New(cfg Config) (*Agent, error) {
	if cfg.Transport == nil || cfg.Groups == nil {
		return nil, errors.New("agent: transport and group runner are required")
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LateLogEvery == 0 {
		cfg.LateLogEvery = 10 * time.Second
	}
	if _, real := cfg.Clock.(clock.Real); cfg.Realtime && !real {
		return nil, errors.New("agent: the realtime loop sleeps in the kernel and needs the real clock")
	}
	m, err := ha.New(cfg.Machine)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a := &Agent{cfg: cfg, m: m, log: cfg.Logger,
		events: make(chan ha.Event, 256), tick: make(chan struct{}, 1), calls: make(chan func(), 16),
		done: make(chan struct{}), lateLogged: map[string]time.Time{}, lateHidden: map[string]int{},
		v1Peers: map[string]bool{}, badReadiness: map[string]bool{}}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.status = m.Status()
	a.in = cfg.Transport.Received()
	if cfg.Realtime {
		if a.waiter, err = realtime.NewWaiter(); err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	return a, nil
}

// Run owns the machine until ctx ends, then waits for group operations in
// flight (their context is canceled) and returns. It does not say goodbye:
// call Leave first for a clean stop.
func (a *Agent) Run(ctx context.Context) error {
	defer close(a.done)
	defer func() {
		if a.closeLog != nil {
			a.closeLog()
		}
	}()
	defer a.wg.Wait()
	defer a.cancel()
	if a.waiter != nil {
		return a.runRealtime(ctx)
	}
	in := a.in
	a.step(ha.Event{Kind: ha.EventStart})
	for {
		select {
		case <-ctx.Done():
			if a.timer != nil {
				a.timer.Stop()
			}
			return nil
		case <-a.tick:
			a.step(ha.Event{Kind: ha.EventTick})
		case p := <-in:
			a.received(p)
		case ev := <-a.events:
			a.step(ev)
		case f := <-a.calls:
			a.drain()
			f()
		}
	}
}

// drain handles every queued event and received packet, so a call sees
// their effect.
func (a *Agent) drain() {
	in := a.in
	for {
		select {
		case <-a.tick:
			a.step(ha.Event{Kind: ha.EventTick})
		case p := <-in:
			a.received(p)
		case ev := <-a.events:
			a.step(ev)
		default:
			return
		}
	}
}

// do runs f on the agent goroutine after the queued events.
func (a *Agent) do(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case a.calls <- func() { f(); close(ran) }:
		a.wake()
	case <-a.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ran:
		return nil
	case <-a.done:
		return ErrClosed
	}
}

// Ping returns once the agent goroutine has handled everything queued
// before it: a liveness probe for the systemd watchdog.
func (a *Agent) Ping(ctx context.Context) error { return a.do(ctx, func() {}) }

// inject queues an event, waiting for room (commands, results).
func (a *Agent) inject(ctx context.Context, ev ha.Event) error {
	select {
	case a.events <- ev:
		a.wake()
		return nil
	case <-a.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// messageEvent turns a heartbeat that passed the transport's checks into
// the machine's event.
func messageEvent(p *wire.Packet) ha.Event {
	msg := &ha.Message{From: p.Sender, Generation: p.Generation, Keepalive: p.Keepalive,
		Leaving: p.Flags&wire.FlagLeaving != 0, Maintenance: p.Flags&wire.FlagMaintenance != 0,
		Groups: make([]ha.GroupState, len(p.Groups))}
	for i, g := range p.Groups {
		msg.Groups[i] = ha.GroupState{Name: g.Name, Priority: g.Priority, State: ha.State(g.State)}
	}
	if !p.Version1 { // a version-1 peer says nothing of what it hears: Hears stays nil
		msg.Hears = make([]ha.Hearing, len(p.Heard))
		for i, h := range p.Heard {
			msg.Hears[i] = ha.Hearing{Node: h.Node, Generation: h.Generation, Age: h.Age, Alive: h.Flags&wire.HeardAlive != 0}
		}
	}
	return ha.Event{Kind: ha.EventMessage, Msg: msg}
}

// Takeover moves group ("" = all) here now (hb_takeover). It returns a
// *RefusedError when the machine refused the command (maintenance, leaving,
// unknown group); the move itself then proceeds on the loop.
func (a *Agent) Takeover(ctx context.Context, group string) error {
	return a.command(ctx, ha.Event{Kind: ha.EventTakeover, Group: group})
}

// Standby hands group ("" = all) to a peer now (hb_standby); a
// *RefusedError says why not (no live peer can hold it, maintenance).
func (a *Agent) Standby(ctx context.Context, group string) error {
	return a.command(ctx, ha.Event{Kind: ha.EventStandby, Group: group})
}

// StandbyBlocked lists why a standby of group ("" = all) would not hand
// it to a peer now (ha.Machine.StandbyBlocked); none when it would.
func (a *Agent) StandbyBlocked(ctx context.Context, group string) ([]ha.StandbyBlock, error) {
	var bs []ha.StandbyBlock
	err := a.do(ctx, func() { bs = a.m.StandbyBlocked(group) })
	return bs, err
}

// Maintenance freezes (on) or thaws the node; a *RefusedError says why
// not (leaving).
func (a *Agent) Maintenance(ctx context.Context, on bool) error {
	return a.command(ctx, ha.Event{Kind: ha.EventMaintenance, On: on})
}

// ResetPeer forgets peer's generation in the machine (the operator's
// `hactl peer reset`); the transport's replay filter is reset by the caller.
func (a *Agent) ResetPeer(ctx context.Context, peer string) error {
	return a.command(ctx, ha.Event{Kind: ha.EventResetPeer, Peer: peer})
}

// RefusedError is an operator command the machine refused, with its
// reasons (one per group refused).
type RefusedError struct{ Reasons []string }

func (e *RefusedError) Error() string { return strings.Join(e.Reasons, "; ") }

// command steps ev on the loop and returns the machine's refusal, if any.
func (a *Agent) command(ctx context.Context, ev ha.Event) error {
	var refused []string
	err := a.do(ctx, func() {
		for _, act := range a.step(ev) {
			if act.Kind == ha.ActionLog && act.Topic == ha.TopicRefused {
				refused = append(refused, act.Reason)
			}
		}
	})
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		return &RefusedError{Reasons: refused}
	}
	return nil
}

// CheckResult reports a ping node or track check; it fits ha/ping's callback.
func (a *Agent) CheckResult(name string, ok bool, reason string) {
	a.inject(a.ctx, ha.Event{Kind: ha.EventCheck, Check: name, OK: ok, Reason: reason})
}

// Readiness reports what the balancer can serve for group here
// (ha.EventReadiness): healthy reals passing their checks, and whether the
// persistence table caught up with the owner's (behind says what it
// lacks). It waits only for room in the event queue.
func (a *Agent) Readiness(group string, healthy int, synced bool, behind string) {
	a.inject(a.ctx, ha.Event{Kind: ha.EventReadiness, Group: group, Healthy: healthy, OK: synced, Reason: behind})
}

// ResourceFailed reports that a resource of a held group failed at run
// time (an interface it uses went down); the machine stops the group here
// and gives it up to a peer. It waits only for room in the event queue.
func (a *Agent) ResourceFailed(group, reason string) {
	a.inject(a.ctx, ha.Event{Kind: ha.EventFailed, Group: group, Reason: reason})
}

// Leave tells peers this node stops on purpose and stops every group, then
// waits until no group is held or being released, or ctx ends.
func (a *Agent) Leave(ctx context.Context) error {
	idle := make(chan struct{})
	if err := a.do(ctx, func() {
		a.step(ha.Event{Kind: ha.EventLeave})
		a.idleWaiters = append(a.idleWaiters, idle)
		a.checkIdle()
	}); err != nil {
		return err
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("agent: leaving: groups still held: %w", ctx.Err())
	case <-a.done:
		return ErrClosed
	}
}

// Topics counts the machine's remarks by topic since start (split-brain,
// split-brain-resolved, dead, alive, leaving, ...; see ha.Action.Topic),
// every one counted even when its log line is rate-limited. The map is a
// copy.
func (a *Agent) Topics() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.topics)
}

// Status returns the latest snapshot (safe from any goroutine).
func (a *Agent) Status() ha.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}
