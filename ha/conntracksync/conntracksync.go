package conntracksync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hapair/hapair/internal/runner"
)

// DefaultBinary is where Debian's conntrackd package installs it.
const DefaultBinary = "/usr/sbin/conntrackd"

// ErrNoConntrackd is wrapped by Check and New when the binary is missing.
var ErrNoConntrackd = errors.New("conntrackd not found (Debian: apt-get install conntrackd)")

// Config describes one conntrack-sync resource.
type Config struct {
	Interface   string     // the sync link (a heartbeat link); required
	Local, Peer netip.Addr // this node's and the peer's IPv4 address on it; required
	Port        uint16     // UDP port (default DefaultPort)
	// Dir holds the generated config, the lock file and the control
	// socket; created 0700. Required (e.g. /run/hapair/conntrackd).
	Dir string
	// Binary is conntrackd (default DefaultBinary).
	Binary string
	// CommandTimeout bounds each client command (-c, -f, ...) (default 5s).
	CommandTimeout time.Duration
	// ReadyTimeout bounds the wait for a new daemon's control socket
	// (default 5s).
	ReadyTimeout time.Duration
	Logger       *slog.Logger // default: discard
}

// Check reports whether the conntrackd binary is there, for the config
// check: a conntrack-sync resource without it is refused before start.
func Check(binary string) error {
	if binary == "" {
		binary = DefaultBinary
	}
	if _, err := exec.LookPath(binary); err != nil {
		return fmt.Errorf("conntrack-sync: %s: %w", binary, ErrNoConntrackd)
	}
	return nil
}

// Resource is the conntrack-sync resource. Its methods are serialized and
// safe for concurrent use.
type Resource struct {
	cfg  Config
	conf string // path of the generated config
	log  *slog.Logger
	name string

	mu     sync.Mutex
	daemon *runner.Daemon // nil until started
	// after: the steps of the last role switch still running in the
	// background (the takeover's after the commit, the release's), nil
	// when none; the next switch and Close end them first.
	after *background
}

// background is a run of a role switch's steps that no resource waits for.
type background struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the steps have ended
}

// New validates cfg and returns the resource. It starts nothing.
func New(cfg Config) (*Resource, error) {
	if err := InterfaceError(cfg.Interface); err != nil {
		return nil, fmt.Errorf("conntrack-sync: interface %w", err)
	}
	if err := validAddrs(cfg.Local, cfg.Peer); err != nil {
		return nil, err
	}
	if err := DirError(cfg.Dir); err != nil {
		return nil, fmt.Errorf("conntrack-sync: dir %w", err)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.Binary == "" {
		cfg.Binary = DefaultBinary
	}
	if err := Check(cfg.Binary); err != nil {
		return nil, err
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 5 * time.Second
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Resource{cfg: cfg, conf: filepath.Join(cfg.Dir, "conntrackd.conf"), log: cfg.Logger,
		name: fmt.Sprintf("conntrack-sync %s %s->%s:%d", cfg.Interface, cfg.Local, cfg.Peer, cfg.Port)}, nil
}

// Name returns "conntrack-sync eth1 198.18.1.11->198.18.1.12:3780".
func (r *Resource) Name() string { return r.name }

// Start takes the primary role (primary-backup.sh primary): commit the
// external cache, flush the caches, resync with the kernel table, bulk
// send. The daemon not running or the commit failing fails Start (the
// peer's connections would not survive). Start returns once the commit
// is done, so the group's next resources (the kernel services, the VIP)
// follow at once: the peer's connections are in the kernel table then,
// and the flush, resync and bulk send serve only the new backup. They
// run in the background, in order, each bounded by CommandTimeout, and
// failures are logged; as with keepalived, whose notify_master runs
// primary-backup.sh beside the VIP's move. Measured on a loaded host
// (load 30 on 2 cores), each conntrackd command took up to 2.3 s, and
// the three after the commit held a nat group's takeover up to 3 s.
func (r *Resource) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endBackground()
	if err := r.ensure(ctx); err != nil {
		return err
	}
	if err := r.client(ctx, "-c"); err != nil {
		return fmt.Errorf("conntrack-sync: committing the external cache: %w", err)
	}
	r.inBackground(ctx, "after takeover", "-f", "-R", "-B")
	return nil
}

// inBackground runs the client commands ops in order, each bounded by
// CommandTimeout, without waiting for them; failures are logged with
// when. r.mu is held.
func (r *Resource) inBackground(ctx context.Context, when string, ops ...string) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &background{cancel: cancel, done: make(chan struct{})}
	r.after = a
	go func() {
		defer close(a.done)
		defer cancel()
		for _, op := range ops {
			if actx.Err() != nil {
				return
			}
			if err := r.client(actx, op); err != nil && actx.Err() == nil {
				r.log.Warn("conntrackd step failed "+when, "op", op, "iface", r.cfg.Interface, "err", err)
			}
		}
	}()
}

// endBackground stops the last role switch's background steps, if they
// still run, and waits for them (at most the command running, which
// its cancellation kills). r.mu is held.
func (r *Resource) endBackground() {
	if a := r.after; a != nil {
		a.cancel()
		<-a.done
		r.after = nil
	}
}

// Stop takes the backup role (primary-backup.sh backup): the daemon keeps
// running, a flush of the kernel's conntrack table is scheduled for
// PurgeTimeout (5 s) later (-t, conntrackd.conf(5): it purges the entries
// this node no longer forwards for) and a resync from the new owner is
// requested (-n). A release therefore keeps translating its connections
// for at most PurgeTimeout, longer than node's natLinger, which must stay
// below it. A takeover here cancels the scheduled flush: conntrackd's
// commit (-c) deletes it first (sync-mode.c, local_commit).
//
// Stop returns once the daemon runs; -t and -n follow in the background,
// each bounded by CommandTimeout, and failures are logged: the peer's
// takeover needs neither, and it waits for this release, while the old
// owner's NAT linger (node) runs from it. (Measured on a loaded host, each
// conntrackd command took up to 2.3 s.) keepalived, too, runs
// notify_backup's primary-backup.sh without waiting for it.
func (r *Resource) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endBackground()
	if err := r.ensure(ctx); err != nil {
		r.log.Warn("conntrackd not running after release", "iface", r.cfg.Interface,
			"reason", "this node will not receive the new owner's connections", "err", err)
		return nil
	}
	r.inBackground(ctx, "after release", "-t", "-n")
	return nil
}

// RemoveStale puts a node that does not own the group in the backup role
// at start: the daemon runs and requests a resync. It reports false: it
// removes nothing of the host's.
func (r *Resource) RemoveStale(ctx context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endBackground()
	if err := r.ensure(ctx); err != nil {
		return false, err
	}
	if err := r.client(ctx, "-n"); err != nil {
		r.log.Warn("conntrackd resync request failed", "iface", r.cfg.Interface, "err", err)
	}
	return false, nil
}

// Status reports nil while the daemon hapair started runs.
func (r *Resource) Status(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.daemon.Running("conntrack-sync: conntrackd")
}

// Close stops the daemon (SIGTERM to its process group, SIGKILL after
// the grace) and removes the generated files, at had's exit.
func (r *Resource) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endBackground()
	if d := r.daemon; d != nil {
		d.Stop()
		r.daemon = nil
	}
	var errs []error
	for _, f := range []string{r.conf, filepath.Join(r.cfg.Dir, "lock"), socketIn(r.cfg.Dir)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ensure starts the daemon unless the one this Resource started runs.
func (r *Resource) ensure(ctx context.Context) error {
	if d := r.daemon; d != nil {
		if !d.Exited() {
			return nil
		}
		r.log.Warn("restarting conntrackd", "iface", r.cfg.Interface, "reason", "exited: "+d.Reason())
		r.daemon = nil
	}
	if err := os.MkdirAll(r.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("conntrack-sync: %w", err)
	}
	if err := os.WriteFile(r.conf, []byte(conf(r.cfg)), 0o600); err != nil {
		return fmt.Errorf("conntrack-sync: writing config: %w", err)
	}
	// A daemon left by an earlier run of had listens on our socket: ask
	// it to exit (-k), then clear its lock file, which would refuse ours.
	if r.client(ctx, "-k") == nil {
		r.log.Info("stopped conntrackd of an earlier run", "iface", r.cfg.Interface)
	}
	lock := filepath.Join(r.cfg.Dir, "lock")
	if err := os.Remove(lock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("conntrack-sync: removing stale lock: %w", err)
	}
	// The daemon dies with had, even SIGKILLed (StartDaemon).
	d, err := runner.StartDaemon(runner.Command{Path: r.cfg.Binary, Args: []string{"-C", r.conf}}, nil)
	if err != nil {
		return fmt.Errorf("conntrack-sync: starting %s: %w", r.cfg.Binary, err)
	}
	// Ready when its control socket answers statistics (-s).
	if err := d.Ready(ctx, r.cfg.ReadyTimeout, 50*time.Millisecond, func() error { return r.client(ctx, "-s") }); err != nil {
		return fmt.Errorf("conntrack-sync: conntrackd %w", err)
	}
	r.daemon = d
	r.log.Info("conntrackd running", "iface", r.cfg.Interface, "peer", r.cfg.Peer.String())
	return nil
}

// client runs one conntrackd client command against our daemon.
func (r *Resource) client(ctx context.Context, op string) error {
	res, err := runner.Run(ctx, runner.Command{Path: r.cfg.Binary, Args: []string{"-C", r.conf, op},
		Timeout: r.cfg.CommandTimeout, KillGrace: runner.ProbeKillGrace})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("conntrackd %s: %s%s", op, res.Status, runner.QuoteOutput(res.Output))
	}
	return nil
}
