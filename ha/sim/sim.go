// Package sim runs several ha.Machines against each other on a simulated
// clock and an in-memory network with delay, loss, partitions, crashes and
// restarts, on one or more heartbeat links whose directions can be cut
// separately (one-way loss). Like ha/link, a node acts only on a heartbeat
// newer than the last it took from that sender (ha/replay): one that a
// longer delay brings in after a newer one is dropped. Everything is driven
// by one event queue and a seeded RNG, so a run is a pure function of its
// inputs and a failing seed replays exactly.
//
// It serves the scenario scripts of package ha (ha/testdata) and the
// randomized invariant tests in this package. It does no I/O and never reads
// the wall clock.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/replay"
)

// Options shape a simulated cluster.
type Options struct {
	Config     ha.Config     // template: Self and Generation are set per node
	Start      time.Time     // simulated time zero
	DelayMin   time.Duration // one-way message delay range
	DelayMax   time.Duration
	StartDelay time.Duration // how long a group takes to start
	StopDelay  time.Duration // how long a group takes to stop
	Links      int           // heartbeat links; every message goes on each (0: 1)
	Rand       *rand.Rand    // loss and delay jitter (nil: a fixed seed)
}

// cutKey is one cut direction: on one link, or on every link (link -1).
type cutKey struct {
	link     int
	from, to string
}

// Cluster is the simulated world. It is not safe for concurrent use.
type Cluster struct {
	Now   time.Time
	opts  Options
	names []string
	nodes map[string]*Node
	queue eventQueue
	seq   uint64
	cut   map[cutKey]bool
	loss  float64 // per message and link
	rng   *rand.Rand

	// Stale counts heartbeats dropped because a newer one from the same
	// sender was delivered first (see accept).
	Stale int

	// Observe, if set, sees every action a machine returns, in order.
	Observe func(at time.Time, node string, a ha.Action)
	// AfterEvent, if set, runs after each event is processed.
	AfterEvent func()
}

// Node is one simulated host.
type Node struct {
	Name     string
	M        *ha.Machine // nil while down
	Up       bool
	Gen      uint64
	UpSince  time.Time
	Heard    time.Time              // last heartbeat delivered from any peer since boot (zero: none)
	Latest   map[string]*ha.Message // per peer, the last heartbeat delivered since boot
	Running  map[string]bool        // groups whose resources are up on this host
	failNext map[string]string      // group -> reason its next start fails
	inc      int                    // incarnation: events of older ones are dropped
	timerTok uint64
	shutdown bool                      // leaving: goes down once every group is stopped
	sent     uint64                    // heartbeats sent by this incarnation: their sequence numbers
	accepted map[string]*replay.Filter // per sender: the newest (generation, seq) taken, as ha/link keeps it
}

type simEvent struct {
	at    time.Time
	seq   uint64
	node  string
	inc   int
	tok   uint64 // timer token, 0 if not a timer
	hbSeq uint64 // EventMessage: the heartbeat's sequence number within its sender's generation
	ev    ha.Event
}

type eventQueue []*simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// New builds a cluster of opts.Config.Nodes, all down.
func New(opts Options) *Cluster {
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if opts.Links < 1 {
		opts.Links = 1
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	c := &Cluster{Now: opts.Start, opts: opts, nodes: map[string]*Node{}, cut: map[cutKey]bool{}, rng: opts.Rand}
	for _, n := range opts.Config.Nodes {
		c.names = append(c.names, n)
		c.nodes[n] = &Node{Name: n, Running: map[string]bool{}, failNext: map[string]string{}}
	}
	slices.Sort(c.names)
	return c
}

// Names returns the node names, sorted.
func (c *Cluster) Names() []string { return c.names }

// Node returns the named node (nil if unknown).
func (c *Cluster) Node(name string) *Node { return c.nodes[name] }

// Elapsed is the simulated time since the start.
func (c *Cluster) Elapsed() time.Duration { return c.Now.Sub(c.opts.Start) }

// Boot starts (or restarts after Kill) a node with the next generation.
func (c *Cluster) Boot(name string) error {
	n := c.nodes[name]
	if n == nil {
		return fmt.Errorf("sim: unknown node %q", name)
	}
	if n.Up {
		return fmt.Errorf("sim: node %q is already up", name)
	}
	cfg := c.opts.Config
	cfg.Self = name
	n.Gen++
	cfg.Generation = n.Gen
	m, err := ha.New(cfg)
	if err != nil {
		return err
	}
	n.M, n.Up, n.UpSince, n.Heard, n.Latest, n.shutdown = m, true, c.Now, time.Time{}, map[string]*ha.Message{}, false
	n.sent, n.accepted = 0, map[string]*replay.Filter{}
	n.inc++
	n.Running = map[string]bool{} // a fresh host: nothing runs
	c.step(n, ha.Event{Kind: ha.EventStart, Now: c.Now})
	return nil
}

// Kill crashes a node: no goodbye, its resources vanish with it.
func (c *Cluster) Kill(name string) {
	n := c.nodes[name]
	if n == nil || !n.Up {
		return
	}
	n.Up, n.M = false, nil
	n.inc++
	n.Running = map[string]bool{}
}

// Leave stops a node on purpose: it says so, stops its groups and goes down.
func (c *Cluster) Leave(name string) {
	n := c.nodes[name]
	if n == nil || !n.Up {
		return
	}
	n.shutdown = true
	c.step(n, ha.Event{Kind: ha.EventLeave, Now: c.Now})
	c.maybeDown(n)
}

// Inject feeds an event (command, check result) to a running node now.
func (c *Cluster) Inject(name string, ev ha.Event) {
	n := c.nodes[name]
	if n == nil || !n.Up {
		return
	}
	ev.Now = c.Now
	c.step(n, ev)
}

// FailNextStart makes the node's next start of group fail with reason.
func (c *Cluster) FailNextStart(name, group, reason string) {
	if n := c.nodes[name]; n != nil {
		n.failNext[group] = reason
	}
}

// Cut drops messages from a to b (one direction) on every link.
func (c *Cluster) Cut(a, b string) { c.cut[cutKey{-1, a, b}] = true }

// CutLink drops messages from a to b (one direction) on link (0-based).
func (c *Cluster) CutLink(link int, a, b string) { c.cut[cutKey{link, a, b}] = true }

// Links returns how many heartbeat links the cluster has.
func (c *Cluster) Links() int { return c.opts.Links }

// Reaches reports whether some link carries messages from a to b.
func (c *Cluster) Reaches(a, b string) bool {
	for l := range c.opts.Links {
		if c.open(l, a, b) {
			return true
		}
	}
	return false
}

func (c *Cluster) open(link int, a, b string) bool {
	return !c.cut[cutKey{-1, a, b}] && !c.cut[cutKey{link, a, b}]
}

// Partition cuts both directions between a and b.
func (c *Cluster) Partition(a, b string) { c.Cut(a, b); c.Cut(b, a) }

// Isolate cuts a from every other node.
func (c *Cluster) Isolate(a string) {
	for _, b := range c.names {
		if b != a {
			c.Partition(a, b)
		}
	}
}

// Heal removes every cut.
func (c *Cluster) Heal() { c.cut = map[cutKey]bool{} }

// Connected reports whether every node reaches every other on some link
// (cuts on some links only leave the cluster connected).
func (c *Cluster) Connected() bool {
	for _, a := range c.names {
		for _, b := range c.names {
			if a != b && !c.Reaches(a, b) {
				return false
			}
		}
	}
	return true
}

// SetLoss sets the probability that any one message is lost on any one
// link (links lose independently).
func (c *Cluster) SetLoss(p float64) { c.loss = p }

// Run processes events until d of simulated time has passed.
func (c *Cluster) Run(d time.Duration) {
	end := c.Now.Add(d)
	for c.queue.Len() > 0 && !c.queue[0].at.After(end) {
		e := heap.Pop(&c.queue).(*simEvent)
		c.Now = e.at
		n := c.nodes[e.node]
		if !n.Up || e.inc != n.inc || (e.tok != 0 && e.tok != n.timerTok) {
			continue
		}
		if !n.accept(e) {
			c.Stale++
			continue
		}
		e.ev.Now = c.Now
		c.apply(n, e.ev)
		if c.AfterEvent != nil {
			c.AfterEvent()
		}
	}
	c.Now = end
}

// accept applies ha/link's replay rule to a heartbeat: a node acts only on
// one newer than the last it took from that sender, so a heartbeat that a
// longer delay delivers after a newer one is dropped, as ha/link drops it
// (replay.DropOldSeq). Other events are always accepted.
func (n *Node) accept(e *simEvent) bool {
	if e.ev.Kind != ha.EventMessage {
		return true
	}
	f := n.accepted[e.ev.Msg.From]
	if f == nil {
		f = &replay.Filter{}
		n.accepted[e.ev.Msg.From] = f
	}
	return f.Check(e.ev.Msg.Generation, e.hbSeq).Accepted()
}

func (c *Cluster) schedule(at time.Time, n *Node, tok uint64, ev ha.Event) *simEvent {
	c.seq++
	e := &simEvent{at: at, seq: c.seq, node: n.Name, inc: n.inc, tok: tok, ev: ev}
	heap.Push(&c.queue, e)
	return e
}

func (c *Cluster) apply(n *Node, ev ha.Event) {
	switch ev.Kind {
	case ha.EventStarted:
		if ev.OK {
			n.Running[ev.Group] = true
		}
	case ha.EventStopped:
		delete(n.Running, ev.Group)
	case ha.EventMessage:
		n.Heard = c.Now
		n.Latest[ev.Msg.From] = ev.Msg // accept let only a newer one through
	}
	c.step(n, ev)
	c.maybeDown(n)
}

func (c *Cluster) maybeDown(n *Node) {
	if !n.shutdown || !n.Up {
		return
	}
	for _, g := range c.opts.Config.Groups {
		if s := n.M.State(g.Name); s == ha.StateStarting || s == ha.StateMaster || s == ha.StateStopping {
			return
		}
	}
	n.Up, n.M = false, nil
	n.inc++
}

func (c *Cluster) step(n *Node, ev ha.Event) {
	for _, a := range n.M.Step(ev) {
		if c.Observe != nil {
			c.Observe(c.Now, n.Name, a)
		}
		switch a.Kind {
		case ha.ActionSend:
			c.send(n.Name, a.Msg)
		case ha.ActionStart:
			if reason, ok := n.failNext[a.Group]; ok {
				delete(n.failNext, a.Group)
				c.schedule(c.Now.Add(c.opts.StartDelay), n, 0, ha.Event{Kind: ha.EventStarted, Group: a.Group, Reason: reason})
			} else {
				c.schedule(c.Now.Add(c.opts.StartDelay), n, 0, ha.Event{Kind: ha.EventStarted, Group: a.Group, OK: true})
			}
		case ha.ActionStop:
			c.schedule(c.Now.Add(c.opts.StopDelay), n, 0, ha.Event{Kind: ha.EventStopped, Group: a.Group, OK: true})
		case ha.ActionArmTimer:
			n.timerTok++
			c.schedule(a.At, n, n.timerTok, ha.Event{Kind: ha.EventTick})
		}
	}
}

// send puts msg on every link to every other node. The receiver gets the
// first copy to arrive; later copies are duplicates that ha/link drops.
func (c *Cluster) send(from string, msg *ha.Message) {
	c.nodes[from].sent++
	seq := c.nodes[from].sent
	for _, to := range c.names {
		if to == from {
			continue
		}
		first := time.Duration(-1)
		for l := range c.opts.Links {
			if !c.open(l, from, to) || (c.loss > 0 && c.rng.Float64() < c.loss) {
				continue
			}
			d := c.opts.DelayMin
			if span := c.opts.DelayMax - c.opts.DelayMin; span > 0 {
				d += time.Duration(c.rng.Int64N(int64(span) + 1))
			}
			if first < 0 || d < first {
				first = d
			}
		}
		if first >= 0 {
			c.schedule(c.Now.Add(first), c.nodes[to], 0, ha.Event{Kind: ha.EventMessage, Msg: msg}).hbSeq = seq
		}
	}
}

// Owners returns the up nodes that own group (state Starting or Master).
func (c *Cluster) Owners(group string) []string {
	var out []string
	for _, name := range c.names {
		if n := c.nodes[name]; n.Up && n.M.State(group).Owns() {
			out = append(out, name)
		}
	}
	return out
}
