package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/agent"
	"github.com/hapair/hapair/ha/generation"
	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/ping"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// Options says how to build a Node.
type Options struct {
	Path    string            // the config file, re-read by Reload
	Node    string            // this node's name, overriding the host name ("" = host name)
	Keyring *authkeys.Keyring // signs and verifies heartbeats; required unless DryRun
	Logger  *slog.Logger      // nil: discard
	// DryRun builds every part with the same constructors and checks but
	// touches nothing on the system: no state directory, generation file,
	// addresses, sockets, processes or netlink. The Node cannot Start.
	DryRun bool
	// NoHost, with DryRun, also leaves out what the constructors look up
	// on this host (the notify hooks' and script resources' files,
	// conntrackd and BIRD), for a config meant for another machine
	// (CheckOptions.NoHost); their config is still checked.
	NoHost bool
}

// Node is one running had: the agent and everything it drives. Its methods
// are safe for concurrent use.
type Node struct {
	opts    Options
	self    string
	log     *slog.Logger
	started time.Time

	mu       sync.Mutex // guards cfg across reloads
	cfg      *config.Config
	reloadMu sync.Mutex // one reload at a time (SIGHUP and hactl may overlap)

	gen      uint64
	nodeLock *net.UnixListener // the node-wide lock (lockNode)
	lock     *os.File          // flock on the state directory
	env      *env
	agent    *agent.Agent
	links    *link.Set // nil in a dry run
	keys     *keys     // the links' keyring, swapped by a reload; nil without one
	sync     *syncer   // persistence sync; nil without persistent services, or dry
	syncSet  *link.Set // its sockets (heartbeat ports + 1)
	groups   *groupSet
	balancer *proxy.Balancer // nil without proxy services, or dry
	kernel   *kernelServices // nil without nat or dr services, or dry
	holds    *holdSet        // SYN hold of drained moves and group starts; nil without proxied services, nftables, or dry
	forward  forwarder       // handover forward of planned moves; nil as holds is
	holdMu   sync.Mutex      // one held move at a time (standbyDrained)
	notify   map[string]*script.Notifier
	checks   []*ping.Check
	// readinessPoke wakes feedReadiness: a real's health changed, or a
	// reload changed the services (readiness.go). Buffered (1).
	readinessPoke chan struct{}

	running   atomic.Bool // set by Start, after Build wrote every field
	stopRun   context.CancelFunc
	runDone   chan struct{} // closed when the agent loop ends
	runErr    error         // its error; read after runDone
	checkWG   sync.WaitGroup
	closeOnce sync.Once

	recent    transitions
	drains    drainMark // `hactl standby --drain` in progress (drain.go)
	reloadsMu sync.Mutex
	reloads   map[string]uint64 // by result: ok, failed
}

// Build builds the node cfg describes for this node. Unless opts.DryRun, it
// takes the state directory (flock; a second had fails here), bumps the
// generation, binds the balancer's listeners, opens netlink and the links,
// and removes VIPs a previous run left behind; on error it undoes what it
// did. Start runs it.
func Build(cfg *config.Config, opts Options) (_ *Node, err error) {
	self, err := cfg.Self(opts.Node)
	if err != nil {
		return nil, err
	}
	if opts.Keyring == nil && !opts.DryRun {
		return nil, errors.New("node: no keyring to sign heartbeats with")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	log := opts.Logger
	n := &Node{opts: opts, self: self, cfg: cfg, log: log, started: time.Now(), groups: newGroupSet(),
		readinessPoke: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	n.gen = 1 // a dry run's machine needs one; a real one comes from the state directory
	if !opts.DryRun {
		// First of all: a second had on this node stops here.
		if n.nodeLock, err = lockNode(cfg.Cluster.Name, int(cfg.Cluster.ID)); err != nil {
			return nil, err
		}
		if n.lock, err = lockStateDir(cfg.Cluster.StateDir); err != nil {
			return nil, err
		}
		if n.gen, err = generation.Next(cfg.Cluster.StateDir); err != nil {
			return nil, err
		}
	}
	if n.env, err = n.openEnv(cfg); err != nil {
		return nil, err
	}
	for _, g := range cfg.Groups {
		res, vips, err := buildGroup(cfg, g, n.env)
		if err != nil {
			return nil, err
		}
		n.groups.add(g.Name, res, vips)
		if g.ActiveActive {
			n.groups.setLocal(g.Name)
		}
	}
	if n.notify, err = buildNotifiers(cfg, self, log, n.opts.DryRun && n.opts.NoHost); err != nil {
		return nil, err
	}
	if n.checks, err = buildChecks(cfg); err != nil {
		return nil, err
	}

	lc := linkConfig(cfg, self, opts.Keyring, log)
	if opts.Keyring != nil {
		n.keys = newKeys(opts.Keyring)
		lc.Keyring = n.keys
	}
	var transport agent.Transport = dryTransport{}
	if opts.DryRun {
		if opts.Keyring == nil {
			lc.Keyring = dryKeyring{}
		}
		if err := lc.Validate(); err != nil {
			return nil, err
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for g, addrs := range n.groups.removeStale(ctx) {
			log.Warn("removed stale addresses left by an earlier run", "group", g, "addrs", addrs)
		}
		cancel()
		if n.links, err = link.Open(lc); err != nil {
			return nil, err
		}
		transport = n.links
		if (n.balancer != nil || n.kernel != nil) && cfg.NeedsSync() {
			if err := n.openSync(lc, cfg); err != nil {
				return nil, err
			}
		}
	}
	n.agent, err = agent.New(agent.Config{
		Machine:   machineConfig(cfg, self, n.gen),
		Transport: transport,
		Groups:    n.groups,
		Announcer: n.groups,
		Notifier:  notifierFunc(n.notifyTransition),
		Logger:    log,
		Realtime:  cfg.Cluster.Realtime && !opts.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// openEnv opens the kernel handles and the balancer resources are built
// with, or in a dry run validates the balancer config and uses inert ones.
func (n *Node) openEnv(cfg *config.Config) (*env, error) {
	e := &env{log: n.log, services: map[string]bool{}, kernelNames: map[string]bool{},
		self: n.self, stateDir: cfg.Cluster.StateDir, dry: n.opts.DryRun, noHost: n.opts.DryRun && n.opts.NoHost,
		groupServices: map[string][]string{}, checkIntervals: map[string]time.Duration{}, snapshot: n.snapshot}
	for _, s := range cfg.Services {
		e.checkIntervals[s.Name] = s.Check.Interval
	}
	for _, g := range cfg.Groups {
		for _, r := range g.Resources {
			if r.Balancer != nil {
				e.groupServices[g.Name] = append(e.groupServices[g.Name], r.Balancer.Services...)
			}
		}
	}
	if err := e.openSpeaker(cfg); err != nil {
		return nil, err
	}
	proxied := 0
	for _, s := range cfg.Services {
		e.services[s.Name] = true
		if s.Method.Kernel() {
			e.kernelNames[s.Name] = true
		} else {
			proxied++
		}
	}
	pc := balancerConfig(cfg)
	if n.opts.DryRun {
		e.vipKernel, e.ipvsKernel = dryVIPKernel{}, dryIPVSKernel{}
		if err := pc.Validate(); err != nil {
			return nil, fmt.Errorf("balancer: %w", err)
		}
		for _, s := range cfg.Services {
			if sp := kernelSpec(s, nil); s.Method.Kernel() {
				if err := sp.Validate(); err != nil {
					return nil, err
				}
			}
		}
		return e, nil
	}
	e.successor, e.inFlight = n.successor, n.inFlight
	if proxied > 0 {
		b, err := proxy.New(pc, proxy.Options{Logger: n.log.With("component", "balancer"), OnFailure: n.serviceFailed, OnHealth: n.pokeReadiness})
		if err != nil {
			return nil, fmt.Errorf("starting balancer: %w", err)
		}
		n.balancer, e.balancer = b, b
	}
	if len(e.kernelNames) > 0 {
		k, err := newKernelServices(cfg, n.log.With("component", "kernel"), n.pokeReadiness)
		if err != nil {
			return nil, fmt.Errorf("kernel services: %w", err)
		}
		n.kernel, e.kernel = k, k
	} else {
		removeStaleTables(n.log)
	}
	if hold := openHold(n.log); proxied > 0 && hold != nil {
		n.holds = newHoldSet(hold, n.log)
		e.holds = n.holds
	}
	if fwd := openForward(n.log); proxied > 0 && fwd != nil {
		n.forward, e.forward = fwd, fwd
		e.peerAlive = n.peerAlive
	}
	kernel, err := vip.OpenNetlink("")
	if err != nil {
		return nil, fmt.Errorf("opening netlink for VIPs: %w", err)
	}
	e.vipKernel = kernel
	if usesKind(cfg, config.KindIPVSSync) {
		// Check before any group needs it, so a config with ipvs-sync fails
		// at start with the reason, not at takeover.
		if err := ipvssync.Check(); err != nil {
			return nil, err
		}
		k, err := ipvssync.OpenNetlink("")
		if err != nil {
			return nil, err
		}
		e.ipvsKernel = k
	}
	return e, nil
}

// Self is this node's name.
func (n *Node) Self() string { return n.self }

// Generation is this run's generation (ha/generation); 1 in a dry run.
func (n *Node) Generation() uint64 { return n.gen }

// Start runs the agent loop and the ping-node and track checks. Call it
// once, after taking the control socket (so a second had fails before it
// speaks to peers).
func (n *Node) Start() error {
	if n.opts.DryRun {
		return errDryRun
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.watch(ctx); err != nil {
		cancel()
		return err
	}
	n.stopRun = cancel
	n.running.Store(true)
	n.runDone = make(chan struct{})
	go func() {
		defer close(n.runDone)
		n.runErr = n.agent.Run(ctx)
	}()
	if s := n.env.speaker; s != nil {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		if err := s.Start(sctx); err != nil {
			// The bgp resources retry when they start.
			n.log.Error("starting BIRD for the bgp resources failed", "err", err)
		}
		scancel()
	}
	n.startLocal(ctx)
	n.checkWG.Add(1)
	go func() {
		defer n.checkWG.Done()
		n.feedReadiness(ctx)
	}()
	if n.links != nil {
		n.checkWG.Add(1)
		go func() {
			defer n.checkWG.Done()
			n.watchRejects(ctx)
		}()
	}
	if n.sync != nil {
		n.checkWG.Add(1)
		go func() {
			defer n.checkWG.Done()
			n.sync.run(ctx)
		}()
	}
	for _, m := range n.checks {
		n.checkWG.Add(1)
		go func() {
			defer n.checkWG.Done()
			m.Run(ctx, n.agent.CheckResult)
		}()
	}
	return nil
}

// Done is closed when the agent loop ends; before Close that is a bug, not
// a stop, and Err says why.
func (n *Node) Done() <-chan struct{} { return n.runDone }

// Err is the agent loop's error, once Done is closed.
func (n *Node) Err() error { return n.runErr }

// Leave tells peers this node stops on purpose and stops every group in
// reverse resource order, waiting at most until ctx ends. Before it tells
// them, it waits up to standbyReadyWait for a peer still getting ready to
// take the groups (awaitStandby), as a planned standby does, or for a peer
// in maintenance, which takes nothing, to leave it.
// Active-active groups go first: their routes are withdrawn while this
// node still serves, so routers move new flows away before it stops (the
// bgp resource waits for that). Then the connections and requests the
// balancer still serves may finish, leaveDrain at most: Close resets
// what is left.
func (n *Node) Leave(ctx context.Context) error {
	defer n.drainOpen(ctx, leaveDrain)
	var errs []error
	for _, g := range n.groups.locals() {
		if err := n.groups.stopLocal(ctx, g); err != nil {
			errs = append(errs, fmt.Errorf("stopping active-active group %q: %w", g, err))
		}
		n.transition(g, ha.StateStandby, "active-active: node leaving")
	}
	// A stop hands the groups over as a planned standby does: a peer
	// still getting ready (its had just restarted), or in maintenance, is
	// waited for, up to standbyReadyWait, and then the stop goes ahead all
	// the same (awaitLeave).
	n.awaitLeave(ctx)
	n.beforeRelease("") // as a standby does: peers start the groups when they hear it
	return errors.Join(append(errs, n.agent.Leave(ctx))...)
}

// leaveDrain bounds how long a stop waits for the connections and
// requests in flight on the balancer once every group has stopped (like
// HAProxy's hard-stop-after after a soft stop, which it leaves unbounded
// by default): a banner, an answer or a download still finishing; a
// connection whose client now reaches another node (the VIP or the
// route moved) ends only by a timeout, and this bound keeps the stop
// short for those.
const leaveDrain = 2 * time.Second

// drainOpen waits until the balancer's services have no connection or
// request in flight, bound at most, and logs what it waited for.
func (n *Node) drainOpen(ctx context.Context, bound time.Duration) {
	if n.balancer == nil {
		return
	}
	var services []string
	for _, s := range n.balancer.Snapshot().Services {
		services = append(services, s.Name)
	}
	open, err := n.balancer.OpenConns(services...)
	if err != nil || open == 0 {
		return
	}
	// Said before the wait as well as after it: a stop that seems to hang
	// is waiting for these (at most bound).
	n.log.Info("stop: waiting for connections in flight", "open", open, "bound", bound)
	took := n.awaitQuiet(ctx, services, nil, bound, "stopping with connections still open")
	n.log.Info("stop: connections in flight drained", "open", open, "waited", took.Round(time.Millisecond))
}

// startLocal starts the active-active groups (every node holds them; the
// bgp resource's health gate decides whether this node is announced).
// A group that fails to start is retried after a pause, until ctx ends.
func (n *Node) startLocal(ctx context.Context) {
	for _, g := range n.groups.locals() {
		n.checkWG.Add(1)
		go func() {
			defer n.checkWG.Done()
			for attempt := 0; ; attempt++ {
				sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := n.groups.startLocal(sctx, g)
				cancel()
				if err == nil {
					n.log.Info("active-active group started", "group", g)
					n.transition(g, ha.StateMaster, "active-active: started here")
					return
				}
				n.log.Error("starting active-active group failed", "group", g, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second): // retry pause, like fail_backoff
				}
			}
		}()
	}
}

// Alive reports whether the agent loop answers within timeout (for the
// systemd watchdog).
func (n *Node) Alive(timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return n.agent.Ping(ctx) == nil
}

// Close stops the loop and the checks and releases what Build acquired, in
// reverse. It does not say goodbye to peers: Leave does that first. Calls
// after the first do nothing.
func (n *Node) Close() { n.closeOnce.Do(n.close) }

func (n *Node) close() {
	if n.stopRun != nil {
		n.stopRun()
		n.checkWG.Wait()
		<-n.runDone
	}
	if n.links != nil {
		n.links.Close()
	}
	if n.syncSet != nil {
		n.syncSet.Close()
	}
	if n.balancer != nil {
		n.balancer.Close()
	}
	if err := n.kernel.close(); err != nil {
		n.log.Error("removing hapair's nftables tables failed", "err", err)
	}
	if n.holds != nil {
		// A move interrupted by the stop lifts its own hold; this is the
		// backstop, so that a stopped had never leaves SYNs dropped.
		if err := n.holds.ReleaseAll(); err != nil {
			n.log.Error("removing the SYN hold failed", "err", err)
		}
	}
	if n.forward != nil {
		// Each group's Stop removed its own; this is the backstop.
		if err := n.forward.Clear(); err != nil {
			n.log.Error("removing the handover forward failed", "err", err)
		}
	}
	if n.env != nil {
		for _, c := range n.env.closers {
			if err := c(); err != nil {
				n.log.Error("closing a resource failed", "err", err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closeNotifiers(ctx, n.notify)
	if n.lock != nil {
		n.lock.Close()
	}
	if n.nodeLock != nil {
		n.nodeLock.Close() // last: the node is let go only when all is released
	}
}

func (n *Node) notifyTransition(group string, state ha.State, reason string) {
	if g, err := n.groups.get(group); err == nil && g.local {
		return // the machine's owner of an active-active group means nothing; see startLocal
	}
	n.transition(group, state, reason)
}

// transition records a group's transition and runs its notify hook.
func (n *Node) transition(group string, state ha.State, reason string) {
	n.recent.add(ctl.Transition{Time: time.Now(), Group: group, State: state.String(), Reason: reason})
	if h := n.notify[group]; h != nil {
		h.Notify(group, state.String(), reason)
	}
}

// config returns the config in force.
func (n *Node) config() *config.Config {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

// dryTransport stands in for the link set in a dry run.
type dryTransport struct{}

func (dryTransport) Send(*wire.Packet) error       { return errDryRun }
func (dryTransport) Received() <-chan *wire.Packet { return nil }
