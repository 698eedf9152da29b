package ha

import (
	"fmt"
	"slices"
	"time"
)

// Machine is the ownership state machine of one node. It is not safe for
// concurrent use: one goroutine owns it and calls Step.
type Machine struct {
	cfg      Config
	started  bool
	startAt  time.Time
	now      time.Time
	maint    bool
	leaving  bool
	dirty    bool // our advertised state changed: send at once
	nextSend time.Time
	armed    time.Time

	initdeadOver bool
	anyFailback  bool      // some group has auto_failback on
	iso          bool      // isolated: no peer alive and every ping node failed
	isoWhy       string    // why, while iso
	rejoinUntil  time.Time // isolation ended with no peer heard: acquire nothing before this (see rejoining)
	checks       map[string]*check
	checkList    []*check // the same, in configuration order
	penalty      int      // sum of the weights of the failed checks
	pings        int      // how many checks are ping nodes
	pingsFailed  int      // how many of those have failed
	peers        map[string]*peer
	peerNames    []string // sorted
	groups       []*group
	byName       map[string]*group
	out          []Action
	cbuf         []candidate
}

type check struct {
	name   string
	weight uint8
	ping   bool // a ping node: counts toward isolation
	failed bool // a failure was reported (unknown, before the first result, is not failed)
	reason string
}

type peer struct {
	name       string
	heard      bool // heard at least once since we started
	alive      bool
	leaving    bool
	maint      bool
	warned     bool // a warntime remark was made for this silence
	lastHeard  time.Time
	aliveSince time.Time
	gen        uint64
	keepalive  time.Duration
	reason     string // why alive/dead, for status
	groups     map[string]peerGroup
	report     *Hearing  // what its last heartbeat said it hears of us (nil: nothing)
	reportAt   time.Time // when that heartbeat arrived
	deafSince  time.Time // first of its unbroken run of reports saying it does not hear us (zero: none)
	deaf       string    // alive but does not hear us: why ("" = it hears us or cannot say)
	back       bool      // this step: heard again, same generation, after we declared it dead (see watchRivals)
}

type peerGroup struct {
	prio         uint8
	state        State
	prioSince    time.Time
	healthy      int  // its healthy reals, when healthyKnown
	healthyKnown bool // it advertised a healthy count
	notReady     bool // its auto_failback waits for readiness
}

type group struct {
	cfg         GroupConfig
	failback    bool // auto_failback for this group (its override or the cluster's)
	state       State
	since       time.Time
	reason      string
	standbyPin  bool      // operator said standby: advertise PriorityStandby
	standbyAt   time.Time // when a standby pinned it while held here (the handover it announced)
	takeoverPin bool      // operator said takeover: advertise PriorityTakeover
	failures    int       // consecutive resource failures
	failing     string    // a held resource failed (EventFailed): give the group up once stopped
	retryAt     time.Time
	natural     uint8 // priority without pins, to spot changes
	prioSince   time.Time
	rivals      map[string]State // peers seen master or stopping while we are master
	splits      map[string]bool  // rivals seen master with us: a split brain not resolved yet
	handovers   map[string]bool  // MakeBeforeBreak: peers seen starting while we held it, or holding it while we started
	releaseAt   time.Time        // MakeBeforeBreak: when the overlap with a successor that holds it ends
	leaveBy     time.Time        // MakeBeforeBreak, leaving: stop by then even without a successor (zero: not kept)
	waiting     string           // last reason for not acting, said once
	ready       readiness        // what the caller last said of the balancer here (FailbackGate)
	advHealthy  int              // what the last heartbeat said of it, to send changes at once
	advKnown    bool
	advNotReady bool
	gateWait    bool // a failback here waits for readiness: said once
}

// New validates cfg, fills its defaults and returns a Machine that does
// nothing until it is given EventStart.
func New(cfg Config) (*Machine, error) {
	cfg = cloneConfig(cfg).WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ha: %w", err)
	}
	if !slices.Contains(cfg.Nodes, cfg.Self) {
		return nil, fmt.Errorf("ha: self %q is not in nodes %q", cfg.Self, cfg.Nodes)
	}

	m := &Machine{cfg: cfg, checks: map[string]*check{}, peers: map[string]*peer{}, byName: map[string]*group{}}
	for _, c := range cfg.Checks {
		ch := &check{name: c.Name, weight: c.Weight, ping: c.Ping, reason: "not checked yet"}
		m.checks[c.Name] = ch
		m.checkList = append(m.checkList, ch)
		if c.Ping {
			m.pings++
		}
	}
	for _, n := range cfg.Nodes {
		if n != cfg.Self {
			m.peers[n] = &peer{name: n, groups: map[string]peerGroup{}, reason: "not heard yet"}
			m.peerNames = append(m.peerNames, n)
		}
	}
	slices.Sort(m.peerNames)
	for _, gc := range cfg.Groups {
		g := &group{cfg: gc, failback: cfg.failback(&gc), state: StateStandby, reason: "not started", rivals: map[string]State{}, splits: map[string]bool{}, handovers: map[string]bool{}}
		m.groups = append(m.groups, g)
		m.anyFailback = m.anyFailback || g.failback
		m.byName[gc.Name] = g
	}
	return m, nil
}

// Config returns the configuration with defaults filled in.
func (m *Machine) Config() Config { return cloneConfig(m.cfg) }

// Step applies one event and returns what the caller must do, in order.
func (m *Machine) Step(ev Event) []Action {
	m.out = nil
	if ev.Now.Before(m.now) {
		ev.Now = m.now // a clock that steps back must not rewind deadlines
	}
	m.now = ev.Now
	if !m.started && ev.Kind != EventStart {
		return nil
	}
	switch ev.Kind {
	case EventStart:
		if m.started {
			return nil
		}
		m.started, m.startAt, m.dirty = true, m.now, true
		for _, g := range m.groups {
			g.since, g.prioSince, g.reason = m.now, m.now, "started"
			g.natural = m.naturalPrio(g)
		}
		m.log(LevelInfo, "", fmt.Sprintf("node %s starting (generation %d), waiting up to initdead %v for peers", m.cfg.Self, m.cfg.Generation, m.cfg.Initdead))
	case EventTick:
		m.armed = time.Time{} // the timer fired: always re-arm
	case EventMessage:
		m.onMessage(ev.Msg)
	case EventTakeover:
		m.onTakeover(ev.Group)
	case EventStandby:
		m.onStandby(ev.Group)
	case EventMaintenance:
		m.onMaintenance(ev.On)
	case EventLeave:
		m.onLeave()
	case EventCheck:
		m.onCheck(ev.Check, ev.OK, ev.Reason)
	case EventStarted:
		m.onStarted(ev.Group, ev.OK, ev.Reason)
	case EventStopped:
		m.onStopped(ev.Group, ev.OK, ev.Reason)
	case EventFailed:
		m.onFailed(ev.Group, ev.Reason)
	case EventResetPeer:
		m.onResetPeer(ev.Peer)
	case EventReadiness:
		m.onReadiness(ev.Group, ev.Healthy, ev.OK, ev.Reason)
	default:
		m.log(LevelWarn, "", fmt.Sprintf("ignoring unknown event kind %d", ev.Kind))
	}
	m.expirePeers()
	m.updateDeafness()
	m.updateIsolation()
	for _, g := range m.groups {
		m.trackPriority(g)
		m.evaluate(g)
		m.trackReadiness(g)
	}
	for _, n := range m.peerNames {
		m.peers[n].back = false
	}
	m.maybeSend()
	m.arm()
	return m.out
}

func (m *Machine) log(l Level, peer, reason string) { m.logTopic(l, peer, "", reason) }

func (m *Machine) logTopic(l Level, peer, topic, reason string) {
	m.out = append(m.out, Action{Kind: ActionLog, Level: l, Peer: peer, Topic: topic, Reason: reason})
}

func (m *Machine) setState(g *group, s State, reason string) {
	g.state, g.since, g.reason, g.waiting = s, m.now, reason, ""
	m.dirty = true
	m.out = append(m.out, Action{Kind: ActionNotify, Group: g.cfg.Name, State: s, Reason: reason})
}

func (m *Machine) onMessage(msg *Message) {
	if msg == nil {
		return
	}
	p := m.peers[msg.From]
	if p == nil || msg.Generation < p.gen {
		return // unknown sender (ha/link filters these) or an older incarnation
	}
	silent := p.heard && !p.alive && !p.leaving && msg.Generation == p.gen // declared dead, not restarted
	if p.heard && msg.Generation > p.gen {
		p.alive, p.leaving, p.maint = false, false, false
		p.groups = map[string]peerGroup{}
		m.log(LevelInfo, p.name, fmt.Sprintf("peer %s restarted: generation %d -> %d", p.name, p.gen, msg.Generation))
	}
	p.heard, p.gen, p.keepalive = true, msg.Generation, msg.Keepalive
	if p.alive && p.warned {
		m.log(LevelInfo, p.name, fmt.Sprintf("peer %s heard again after %v", p.name, m.now.Sub(p.lastHeard)))
	}
	p.lastHeard, p.warned = m.now, false
	m.onHears(p, msg.Hears)
	held := ownedBy(p) // before this message: a leaving peer may say it already stopped
	for name := range p.groups {
		if !slices.ContainsFunc(msg.Groups, func(gs GroupState) bool { return gs.Name == name }) {
			delete(p.groups, name)
		}
	}
	for _, gs := range msg.Groups {
		if _, ok := m.byName[gs.Name]; !ok || !gs.State.Valid() {
			continue
		}
		if g := m.byName[gs.Name]; g.takeoverPin && gs.Priority == PriorityTakeover && !msg.Leaving {
			g.takeoverPin, m.dirty = false, true
			m.log(LevelInfo, p.name, fmt.Sprintf("takeover of %s requested on %s supersedes ours", gs.Name, p.name))
		}
		pg := peerGroup{prio: gs.Priority, state: gs.State, prioSince: m.now,
			healthy: max(gs.Healthy, 0), healthyKnown: gs.HealthyKnown, notReady: gs.NotReady}
		if old, ok := p.groups[gs.Name]; ok && old.prio == gs.Priority {
			pg.prioSince = old.prioSince
		}
		p.groups[gs.Name] = pg
	}
	if msg.Leaving {
		if !p.leaving {
			p.alive, p.leaving = false, true
			p.reason = fmt.Sprintf("peer %s leaving: it said it stops on purpose", p.name)
			m.logTopic(LevelInfo, p.name, "leaving", p.reason)
			m.orphanedHere(p, held, "left")
		}
		return
	}
	if !p.alive {
		p.alive, p.leaving, p.aliveSince, p.back = true, false, m.now, silent
		m.dirty = true // answer at once so the newcomer learns our state in one round trip
		p.reason = fmt.Sprintf("peer %s alive (generation %d)", p.name, p.gen)
		m.logTopic(LevelInfo, p.name, "alive", p.reason)
	}
	if msg.Maintenance != p.maint {
		p.maint = msg.Maintenance
		m.log(LevelInfo, p.name, fmt.Sprintf("peer %s maintenance %s", p.name, onOff(p.maint)))
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// expirePeers applies warntime, deadtime and initdead to silent peers.
func (m *Machine) expirePeers() {
	if !m.initdeadOver && !m.now.Before(m.startAt.Add(m.cfg.Initdead)) {
		m.initdeadOver = true
		for _, n := range m.peerNames {
			if p := m.peers[n]; !p.heard {
				p.reason = fmt.Sprintf("peer %s not heard within initdead %v", n, m.cfg.Initdead)
				m.log(LevelWarn, n, p.reason)
			}
		}
	}
	for _, n := range m.peerNames {
		p := m.peers[n]
		if !p.alive {
			continue
		}
		silence := m.now.Sub(p.lastHeard)
		switch {
		case silence >= m.cfg.Deadtime:
			// Our heartbeats say whom we hear (Message.Hears): tell
			// peers at once, as VRRP advertises at once on becoming
			// master, rather than at the next regular heartbeat. A
			// peer that we no longer hear but that hears us (one-way
			// loss, oneway.go) then steps aside a keepalive sooner.
			p.alive, m.dirty = false, true
			p.reason = fmt.Sprintf("peer %s dead: silent for %v >= deadtime %v", n, silence, m.cfg.Deadtime)
			m.logTopic(LevelWarn, n, "dead", p.reason)
			m.orphanedHere(p, ownedBy(p), "died")
		case silence >= m.cfg.Warntime && !p.warned:
			p.warned = true
			m.logTopic(LevelWarn, n, "late", fmt.Sprintf("peer %s late: silent for %v >= warntime %v", n, silence, m.cfg.Warntime))
		}
	}
}

func (m *Machine) maybeSend() {
	if !m.dirty && m.now.Before(m.nextSend) {
		return
	}
	m.dirty = false
	m.nextSend = m.now.Add(m.cfg.Keepalive)
	m.out = append(m.out, Action{Kind: ActionSend, Msg: m.message(), Reason: "heartbeat"})
}

func (m *Machine) message() *Message {
	msg := &Message{From: m.cfg.Self, Generation: m.cfg.Generation, Keepalive: m.cfg.Keepalive,
		Leaving: m.leaving, Maintenance: m.maint, Groups: make([]GroupState, 0, len(m.groups)), Hears: m.hearing()}
	for _, g := range m.groups {
		gs := GroupState{Name: g.cfg.Name, Priority: m.selfPrio(g), State: g.state}
		if g.cfg.FailbackGate {
			gs.Healthy, gs.HealthyKnown, gs.NotReady = g.advHealthy, g.advKnown, g.advNotReady
		}
		msg.Groups = append(msg.Groups, gs)
	}
	return msg
}

// arm asks for a tick at the earliest time something can change by itself.
func (m *Machine) arm() {
	next := m.nextSend
	earliest := func(t time.Time) {
		if t.After(m.now) && t.Before(next) {
			next = t
		}
	}
	if !m.initdeadOver {
		earliest(m.startAt.Add(m.cfg.Initdead))
	}
	earliest(m.rejoinUntil)
	for _, n := range m.peerNames {
		p := m.peers[n]
		if !p.alive {
			continue
		}
		if !p.warned {
			earliest(p.lastHeard.Add(m.cfg.Warntime))
		}
		earliest(p.lastHeard.Add(m.cfg.Deadtime))
		if !m.anyFailback {
			continue
		}
		for name, pg := range p.groups {
			if m.byName[name].failback {
				earliest(p.aliveSince.Add(m.cfg.FailbackHold))
				earliest(pg.prioSince.Add(m.cfg.FailbackHold))
			}
		}
	}
	for _, g := range m.groups {
		if g.state == StateFailed {
			earliest(g.retryAt)
		}
		if !g.releaseAt.IsZero() {
			earliest(g.releaseAt)
		}
		if !g.leaveBy.IsZero() {
			earliest(g.leaveBy)
		}
		if g.failback {
			earliest(m.startAt.Add(m.cfg.FailbackHold))
			earliest(g.prioSince.Add(m.cfg.FailbackHold))
		}
	}
	if next.Equal(m.armed) {
		return
	}
	m.armed = next
	m.out = append(m.out, Action{Kind: ActionArmTimer, At: next, Reason: "next deadline"})
}
