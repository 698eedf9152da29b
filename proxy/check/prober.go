package check

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/clock"
	"github.com/hapair/hapair/internal/probe"
	"github.com/hapair/hapair/proxy/evloop"
)

// Job is one target to probe.
type Job struct {
	// ID is the caller's key for the job (e.g. "http 198.18.1.11:80"),
	// passed back to OnChange. One real in two services is two jobs.
	ID      string
	Target  netip.AddrPort
	Checker Checker
	// Spec gives Interval, Rise, Fall and Initial (defaults applied).
	Spec Spec
}

// ProberConfig configures a Prober.
type ProberConfig struct {
	// MaxInFlight bounds concurrent checks (default 64). When all are busy,
	// due checks wait: they are delayed, never dropped or overlapped.
	MaxInFlight int
	// Rand spreads check times: each job's first check runs at once (at
	// start and for a real a reload adds, as ldirectord and keepalived
	// check at start, so "not checked yet" lasts milliseconds, not an
	// interval, and a node just started is ready to take a group), its
	// second at a random point of the second half of its first interval,
	// and each later one moves by up to ±1/16 of the interval, so a
	// thousand reals added together do not keep firing together (their
	// first checks are bounded by MaxInFlight). nil means a fixed seed.
	Rand *rand.Rand
	// Clock paces the checks (default clock.Real{}). Check timeouts are
	// context deadlines on the real clock: they bound real socket I/O.
	Clock clock.Clock
	// OnChange is called when a job's health changes, with the reason from
	// probe.Tracker.Reason ("" on recovery). It runs on a goroutine of the
	// prober, never twice at once for one job, in the order of the changes,
	// and must not block for long.
	OnChange func(id string, healthy bool, reason string)
}

// Status is a job's health as the Prober sees it.
type Status struct {
	Healthy bool
	Reason  string // see probe.Tracker.Reason
	Checks  uint64 // checks completed
	// Failures counts the completed checks that failed (part of Checks).
	Failures uint64
	// LastDuration is how long the last completed check took, and
	// TotalDuration the sum over Checks (on the Prober's clock), for the
	// per-real check latency in metrics.
	LastDuration, TotalDuration time.Duration
	// LocalError is the last check that failed for a reason on this host
	// (see probe.IsLocal), until a check completes again; LocalErrors counts
	// them. Such a failure is not evidence against the real: it leaves
	// Healthy and the rise/fall count as they were.
	LocalError  string
	LocalErrors uint64
}

// Prober runs each job's check every interval with bounded concurrency and
// feeds the results to a probe.Tracker per job. It is safe for concurrent use.
type Prober struct {
	cfg    ProberConfig
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wake   chan struct{}
	wg     sync.WaitGroup // scheduler and probes

	mu   sync.Mutex
	rng  *rand.Rand
	jobs map[string]*job
	due  jobHeap
	// onLoop holds the checks in flight on event loops (startOnLoop),
	// for Stop to cancel.
	onLoop map[*loopCheck]struct{}
}

type job struct {
	Job
	tracker *probe.Tracker
	checks  uint64
	fails   uint64
	last    time.Duration // duration of the last completed check
	total   time.Duration // sum over checks
	local   string        // last local error, "" once a check completes
	locals  uint64
	next    time.Time
	spread  bool // its first check is done: the next is spread over the interval
	index   int  // in due; -1 while running or removed
	removed bool
	// changes are health changes waiting for
	// notify to pass them to OnChange (in order); notifying is true while
	// its goroutine runs.
	changes   []healthChange
	notifying bool
}

// NewProber starts a prober with no jobs.
func NewProber(cfg ProberConfig) *Prober {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	cfg.Clock = clock.Or(cfg.Clock)
	rng := cfg.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(1, 2))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Prober{
		cfg: cfg, ctx: ctx, cancel: cancel,
		sem:  make(chan struct{}, cfg.MaxInFlight),
		wake: make(chan struct{}, 1),
		rng:  rng,
		jobs: make(map[string]*job),

		onLoop: make(map[*loopCheck]struct{}),
	}
	p.wg.Add(1)
	go p.schedule()
	return p
}

// ErrStopped is returned by Add after Stop.
var ErrStopped = errors.New("check: prober stopped")

// Add starts probing j, or updates the job with the same ID. An update that
// keeps the target keeps the health and counts (a reload does not reset
// them); a new target starts afresh from Spec.Initial.
func (p *Prober) Add(j Job) error {
	if j.Checker == nil {
		return fmt.Errorf("check: job %q has no checker", j.ID)
	}
	j.Spec = j.Spec.WithDefaults()
	if j.Spec.Interval <= 0 {
		return fmt.Errorf("check: job %q: interval %v must be positive", j.ID, j.Spec.Interval)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return ErrStopped
	}
	if old, ok := p.jobs[j.ID]; ok && old.Target == j.Target {
		old.Job = j
		old.tracker.SetThresholds(j.Spec.Rise, j.Spec.Fall)
		return nil
	}
	p.removeLocked(j.ID)
	nj := &job{Job: j, tracker: probe.NewTracker(j.Spec.Rise, j.Spec.Fall, j.Spec.Initial), index: -1}
	nj.next = p.cfg.Clock.Now()
	p.jobs[j.ID] = nj
	heap.Push(&p.due, nj)
	p.poke()
	return nil
}

// Remove stops probing id; a check in flight finishes and its result is
// dropped, as are health changes not yet passed to OnChange (one being
// passed finishes). Removing an unknown id does nothing.
func (p *Prober) Remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(id)
}

func (p *Prober) removeLocked(id string) {
	j, ok := p.jobs[id]
	if !ok {
		return
	}
	delete(p.jobs, id)
	j.removed = true
	if j.index >= 0 {
		heap.Remove(&p.due, j.index)
	}
	if m, ok := j.Checker.(interface{ Forget(netip.AddrPort) }); ok {
		m.Forget(j.Target)
	}
}

// Status returns id's health, and false if there is no such job.
func (p *Prober) Status(id string) (Status, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j, ok := p.jobs[id]
	if !ok {
		return Status{}, false
	}
	return Status{Healthy: j.tracker.Healthy(), Reason: j.tracker.Reason(), Checks: j.checks,
		Failures: j.fails, LastDuration: j.last, TotalDuration: j.total,
		LocalError: j.local, LocalErrors: j.locals}, true
}

// Stop cancels every check in flight and waits until all have returned.
// OnChange is not called after Stop returns.
func (p *Prober) Stop() {
	p.cancel()
	p.cancelOnLoops()
	p.wg.Wait()
}

func (p *Prober) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// coalesce lets the scheduler start checks due within this window early, in
// one batch (for intervals of 160ms and more; shorter ones get interval/16). Each wake-up from idle costs the runtime thread hand-offs that
// dwarf a loopback connect; with 1,000 jobs a second spread evenly, starting
// them in batches of about coalesce's worth cut the prober's CPU use by more
// than half in BenchmarkProber1000Connect. Checks move by at most this much,
// well inside the ±interval/16 jitter.
const coalesce = 10 * time.Millisecond

// schedule starts due jobs in order of their next time.
func (p *Prober) schedule() {
	defer p.wg.Done()
	timer := p.cfg.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	// batch is the event loop the connect checks of this wake-up go to:
	// one loop woken per batch, not one per check.
	var batch *evloop.Loop
	for {
		p.mu.Lock()
		var j *job
		var c Checker
		var target netip.AddrPort
		wait := time.Hour
		if len(p.due) > 0 {
			window := min(coalesce, p.due[0].Spec.Interval/16)
			if d := -p.cfg.Clock.Since(p.due[0].next); d <= window {
				j = heap.Pop(&p.due).(*job)
				c, target = j.Checker, j.Target // Add may update j while it runs
			} else {
				wait = d
			}
		}
		p.mu.Unlock()
		if j == nil {
			batch = nil
			timer.Reset(wait)
			select {
			case <-p.ctx.Done():
				return
			case <-p.wake:
			case <-timer.C():
			}
			continue
		}
		select { // bounded concurrency: wait for a free slot
		case p.sem <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		if cc, ok := c.(*ConnectChecker); ok {
			if batch = p.startOnLoop(batch, j, cc, target); batch != nil {
				continue
			}
		}
		p.wg.Add(1)
		go p.probe(j, c, target)
	}
}

// probe runs one check of j on a goroutine of its own, then records it
// and schedules the next.
func (p *Prober) probe(j *job, c Checker, target netip.AddrPort) {
	defer p.wg.Done()
	start := p.cfg.Clock.Now()
	err := c.Check(p.ctx, target)
	took := p.cfg.Clock.Now().Sub(start)
	<-p.sem
	if p.ctx.Err() != nil {
		return // stopping: a cancelled check says nothing about the real
	}
	p.mu.Lock()
	p.recordLocked(j, start, took, err)
	p.mu.Unlock()
}

// recordLocked records a check of j that started at start, took took and
// ended with err, queues a change of j's health for OnChange, and
// schedules j's next check. The result of a removed job is dropped.
// p.mu held.
func (p *Prober) recordLocked(j *job, start time.Time, took time.Duration, err error) {
	if j.removed {
		return
	}
	changed := false
	if probe.IsLocal(err) {
		// Out of descriptors or buffers here: the check never reached the
		// real, so it proves nothing about it. A local shortage must not
		// take every real down at once and turn into an outage.
		j.local = err.Error()
		j.locals++
	} else {
		j.checks++
		if err != nil {
			j.fails++
		}
		j.last, j.total = took, j.total+took
		j.local = ""
		changed = j.tracker.Observe(err)
	}
	iv := j.Spec.Interval
	jitter := time.Duration(p.rng.Int64N(int64(iv/8)+1)) - iv/16
	if !j.spread {
		j.spread = true
		jitter = time.Duration(p.rng.Int64N(int64(iv/2)+1)) - iv/2
	}
	j.next = start.Add(iv + jitter)
	if now := p.cfg.Clock.Now(); j.next.Before(now) { // the check took longer than the interval
		j.next = now
	}
	heap.Push(&p.due, j)
	if p.due[0] == j {
		// The scheduler waits for an earlier job otherwise: its timer
		// covers this one, and a wake-up per check would cost a thread
		// hand-off each.
		p.poke()
	}
	if changed && p.cfg.OnChange != nil {
		j.changes = append(j.changes, healthChange{j.tracker.Healthy(), j.tracker.Reason()})
		if !j.notifying {
			j.notifying = true
			p.wg.Add(1) // the check's own count is held: Stop's Wait has not returned
			go p.notify(j)
		}
	}
}

// healthChange is a job's health after a check changed it, for OnChange.
type healthChange struct {
	healthy bool
	reason  string
}

// notify passes j's queued changes to OnChange, in order, one at a time,
// then ends; nothing more is passed once Stop began or j was removed (a
// real removed and added again under its id must not be given the old
// job's stale health; a change already being passed finishes). A goroutine of its
// own: a check made on an event loop must not wait for OnChange, which
// takes the balancer's locks, and a goroutine per change is cheap, as
// changes are rare.
func (p *Prober) notify(j *job) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(j.changes) == 0 || p.ctx.Err() != nil || j.removed {
			j.changes, j.notifying = nil, false
			p.mu.Unlock()
			return
		}
		c := j.changes[0]
		j.changes = j.changes[1:]
		p.mu.Unlock()
		p.cfg.OnChange(j.ID, c.healthy, c.reason)
	}
}

// jobHeap orders jobs by next check time.
type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, k int) bool { return h[i].next.Before(h[k].next) }
func (h jobHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index, h[k].index = i, k
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*h = old[:len(old)-1]
	return j
}
