package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/cmd/internal/config"
	"github.com/hapair/hapair/cmd/internal/ctl"
	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/agent"
	"github.com/hapair/hapair/ha/generation"
	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/ping"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/ha/vip"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/proxy"
)

// daemon is one running had: the agent and everything it drives.
type daemon struct {
	path    string // config file, re-read on reload
	node    string // --node override
	self    string
	log     *slog.Logger
	started time.Time

	mu  sync.Mutex // guards cfg across reloads
	cfg *config.Config

	gen      uint64
	lock     *os.File // flock on the state directory
	agent    *agent.Agent
	links    *link.Set
	groups   *groupSet
	balancer *proxy.Balancer
	deps     resourceDeps
	notify   map[string]*script.Notifier // group -> hook
	ctl      *ctl.Server

	checksCancel context.CancelFunc
	checksDone   sync.WaitGroup
}

// transportShim lets the agent be built before the links, whose deliver
// callback is the agent itself. It is set before the agent runs.
type transportShim struct{ set *link.Set }

func (t *transportShim) Send(p *wire.Packet) error { return t.set.Send(p) }

// start builds and starts everything; on error it undoes what it started.
func start(path, node string, cfg *config.Config, kr *authkeys.Keyring, log *slog.Logger) (_ *daemon, err error) {
	self, err := cfg.Self(node)
	if err != nil {
		return nil, err
	}
	d := &daemon{path: path, node: node, self: self, cfg: cfg, log: log, started: time.Now(), groups: newGroupSet()}
	defer func() {
		if err != nil {
			d.close()
		}
	}()

	if err := d.lockStateDir(cfg.Cluster.StateDir); err != nil {
		return nil, err
	}
	if d.gen, err = generation.Next(cfg.Cluster.StateDir); err != nil {
		return nil, err
	}

	if len(cfg.Services) > 0 {
		d.balancer, err = proxy.New(balancerConfig(cfg), proxy.Options{Logger: log.With("component", "balancer")})
		if err != nil {
			return nil, fmt.Errorf("starting balancer: %w", err)
		}
	}
	kernel, err := vip.OpenNetlink("")
	if err != nil {
		return nil, fmt.Errorf("opening netlink for VIPs: %w", err)
	}
	d.deps = resourceDeps{kernel: kernel, balancer: d.balancer, log: log}
	if needsIPVS(cfg) {
		if d.deps.ipvs, err = openIPVS(); err != nil {
			return nil, err
		}
	}
	for _, g := range cfg.Groups {
		res, vips, err := buildGroup(g, d.deps)
		if err != nil {
			return nil, err
		}
		d.groups.add(g.Name, res, vips)
	}
	if d.notify, err = buildNotifiers(cfg, self, log); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	for g, addrs := range d.groups.removeStale(ctx) {
		log.Warn("removed stale addresses left by an earlier run", "group", g, "addrs", addrs)
	}
	cancel()

	shim := &transportShim{}
	d.agent, err = agent.New(agent.Config{
		Machine:   machineConfig(cfg, self, d.gen),
		ClusterID: cfg.Cluster.ID,
		Transport: shim,
		Groups:    d.groups,
		Announcer: d.groups,
		Notifier:  notifierFunc(d.notifyTransition),
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	d.links, err = link.Open(link.Config{
		ClusterID: cfg.Cluster.ID, Self: self, Nodes: cfg.Cluster.Nodes,
		Keyring: kr, Links: linkSpecs(cfg), Logger: log,
	}, d.agent.Deliver)
	if err != nil {
		return nil, err
	}
	shim.set = d.links
	return d, nil
}

func needsIPVS(cfg *config.Config) bool {
	for _, g := range cfg.Groups {
		for _, r := range g.Resources {
			if r.IPVSSync != nil {
				return true
			}
		}
	}
	return false
}

// lockStateDir takes an exclusive flock so two daemons never share a
// generation counter (the second would replay the first's numbers).
func (d *daemon) lockStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("state directory %s is in use by another had (flock %s: %w)", dir, path, err)
	}
	d.lock = f
	return nil
}

func buildNotifiers(cfg *config.Config, self string, log *slog.Logger) (map[string]*script.Notifier, error) {
	byProg := map[string]*script.Notifier{}
	out := map[string]*script.Notifier{}
	for group, prog := range groupNotify(cfg) {
		if prog == "" {
			continue
		}
		n, ok := byProg[prog]
		if !ok {
			var err error
			n, err = script.NewNotifier(script.NotifySpec{Program: prog, Node: self, Logger: log})
			if err != nil {
				return nil, fmt.Errorf("notify hook of group %q: %w", group, err)
			}
			byProg[prog] = n
		}
		out[group] = n
	}
	return out, nil
}

type notifierFunc func(group string, state ha.State, reason string)

func (f notifierFunc) Notify(group string, state ha.State, reason string) { f(group, state, reason) }

func (d *daemon) notifyTransition(group string, state ha.State, reason string) {
	if n := d.notify[group]; n != nil {
		n.Notify(group, state.String(), reason)
	}
}

// runChecks starts the ping-node and track monitors feeding the agent.
func (d *daemon) runChecks(cfg *config.Config) error {
	ctx, cancel := context.WithCancel(context.Background())
	d.checksCancel = cancel
	var specs []ping.Spec
	if len(cfg.Pings) > 0 {
		pinger := ping.NewICMP(0)
		for _, p := range cfg.Pings {
			specs = append(specs, ping.Spec{Name: pingName(p.Address), Probe: ping.PingProbe(pinger, p.Address), Interval: p.Interval, Timeout: p.Timeout})
		}
	}
	for _, t := range cfg.Tracks {
		specs = append(specs, ping.Spec{Name: trackName(t.Name), Probe: ping.TrackProbe(t.Script, t.Args), Interval: t.Interval, Timeout: t.Timeout})
	}
	for _, s := range specs {
		m, err := ping.NewMonitor(s)
		if err != nil {
			return fmt.Errorf("check %s: %w", s.Name, err)
		}
		d.checksDone.Add(1)
		go func() {
			defer d.checksDone.Done()
			m.Run(ctx, d.agent.CheckResult)
		}()
	}
	return nil
}

// close releases what start acquired, in reverse. It does not say goodbye
// to peers: shutdown does that first.
func (d *daemon) close() {
	if d.ctl != nil {
		d.ctl.Close()
	}
	if d.checksCancel != nil {
		d.checksCancel()
		d.checksDone.Wait()
	}
	if d.links != nil {
		d.links.Close()
	}
	if d.balancer != nil {
		d.balancer.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	closed := map[*script.Notifier]bool{}
	for _, n := range d.notify {
		if !closed[n] {
			closed[n] = true
			n.Close(ctx)
		}
	}
	if d.lock != nil {
		d.lock.Close()
	}
}
