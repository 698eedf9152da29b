package bgp

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

	"golang.org/x/sys/unix"

	"github.com/hapair/hapair/internal/realtime"
	"github.com/hapair/hapair/internal/runner"
)

// DefaultBinary is where Debian's bird2 package installs BIRD.
const DefaultBinary = "/usr/sbin/bird"

// ErrNoBIRD is wrapped by Check and NewSpeaker when BIRD is missing.
var ErrNoBIRD = errors.New("BIRD 2 not found (Debian: apt-get install bird2)")

// Check reports whether the BIRD binary is there, for the config check.
func Check(binary string) error {
	if binary == "" {
		binary = DefaultBinary
	}
	if _, err := exec.LookPath(binary); err != nil {
		return fmt.Errorf("bgp: %s: %w", binary, ErrNoBIRD)
	}
	return nil
}

// commandTimeout bounds one control-socket command; readyTimeout the wait
// for a new BIRD's control socket.
const (
	commandTimeout = 5 * time.Second
	readyTimeout   = 5 * time.Second
	stopTimeout    = 5 * time.Second
)

// Speaker is this node's BIRD: one process for every group's routes. Its
// methods are safe for concurrent use. Register every group (Resource)
// before the first Start: the config BIRD runs is written then.
type Speaker struct {
	opts   Options
	dir    string
	binary string
	log    *slog.Logger

	mu     sync.Mutex
	groups map[string][]netip.Prefix
	// enabled counts the routes of each enabled static protocol (the
	// routes every established session must have exported).
	enabled map[string]int
	proc    *runner.Daemon // nil until started
}

// NewSpeaker validates o and returns the node's speaker; dir (absolute)
// holds BIRD's config, control socket and log. It starts nothing.
func NewSpeaker(o Options, dir, binary string, log *slog.Logger) (*Speaker, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := DirError(dir); err != nil {
		return nil, fmt.Errorf("bgp: dir %w", err)
	}
	if binary == "" {
		binary = DefaultBinary
	}
	if err := Check(binary); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Speaker{opts: o.withDefaults(), dir: dir, binary: binary, log: log, groups: map[string][]netip.Prefix{}, enabled: map[string]int{}}, nil
}

// DirIn is the speaker's directory under had's state directory.
func DirIn(stateDir string) string { return filepath.Join(stateDir, "bird") }

// DirError reports why dir cannot hold BIRD's files, nil when it can: an
// absolute path, short enough for BIRD's control socket
// (runner.SocketPathError).
func DirError(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%q: want an absolute path", dir)
	}
	return runner.SocketPathError(socketIn(dir))
}

func socketIn(dir string) string   { return filepath.Join(dir, "bird.ctl") }
func (s *Speaker) socket() string  { return socketIn(s.dir) }
func (s *Speaker) logFile() string { return filepath.Join(s.dir, "bird.log") }

// Start runs BIRD now, before any group is held, so its sessions are
// established when a group's routes are first announced (a session takes
// seconds to come up; an announcement on an established one, milliseconds).
// Resources start BIRD themselves when it is not running.
func (s *Speaker) Start(ctx context.Context) error { return s.ensure(ctx) }

// ensure starts BIRD unless the one this Speaker started runs.
func (s *Speaker) ensure(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.proc; p != nil {
		if !p.Exited() {
			return nil
		}
		s.log.Warn("restarting BIRD", "reason", "exited: "+p.Reason())
		s.proc = nil
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	conf := filepath.Join(s.dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(birdConf(s.opts, s.groups)), 0o600); err != nil {
		return fmt.Errorf("bgp: writing BIRD's config: %w", err)
	}
	// A socket left by a BIRD of an earlier run: that BIRD died with its
	// had (parent-death signal), so the file is stale.
	if err := os.Remove(s.socket()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bgp: removing stale control socket: %w", err)
	}
	// BIRD writes its own log (birdConf) in its working directory, s.dir;
	// the file holds this run's.
	if err := os.Remove(s.logFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bgp: removing the last run's log: %w", err)
	}
	// With realtime, the thread that forks BIRD is set to SCHED_RR first,
	// so BIRD starts at SCHED_RR (as under chrt(1)) and so does every
	// thread it creates: BIRD 2 runs BFD on a thread of its own, which a
	// policy set on BIRD's pid after the start does not reach (it left BFD
	// at normal priority, and at load 25 the router dropped healthy nodes'
	// sessions). rtErr says why BIRD runs at normal priority when the
	// kernel refused.
	var rtErr error
	p, err := runner.StartDaemon(runner.Command{Path: s.binary, Dir: s.dir, Args: []string{"-f", "-c", conf, "-s", s.socket(), "-P", filepath.Join(s.dir, "bird.pid")}},
		func() {
			if s.opts.Realtime {
				rtErr = setRealtime()
			}
		})
	if err != nil {
		return fmt.Errorf("bgp: starting %s: %w", s.binary, err)
	}
	if rtErr != nil {
		s.log.Warn("BIRD runs at normal priority: a loaded host may drop its BFD sessions", "err", rtErr)
	}
	err = p.Ready(ctx, readyTimeout, 20*time.Millisecond, func() error {
		_, err := birdc(ctx, s.socket(), "show status", commandTimeout)
		return err
	})
	switch {
	case errors.Is(err, runner.ErrExited):
		return fmt.Errorf("bgp: BIRD exited at start (%s); its log: %s", p.Reason(), s.logFile())
	case err != nil:
		return fmt.Errorf("bgp: BIRD on %s %w", s.socket(), err)
	}
	s.proc = p
	s.log.Info("BIRD running", "pid", p.Pid(), "neighbors", len(s.opts.Neighbors))
	return nil
}

// setRealtime sets the calling (locked) thread to SCHED_RR at
// realtime.Priority, without SCHED_RESET_ON_FORK: BIRD inherits it through
// the fork, and its threads through pthread_create (a reset-on-fork policy
// would leave them at normal priority). BIRD 2 runs no other program
// unless configured to (had's config has no pipe protocol). It needs
// CAP_SYS_NICE.
func setRealtime() error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: realtime.Priority}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("bgp: setting BIRD's launching thread to SCHED_RR priority %d: %w", realtime.Priority, err)
	}
	return nil
}

// command runs cmd on the running BIRD.
func (s *Speaker) command(ctx context.Context, cmd string) error {
	_, err := birdc(ctx, s.socket(), cmd, commandTimeout)
	return err
}

// Running reports nil while the BIRD this Speaker started runs.
func (s *Speaker) Running() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.Running("bgp: BIRD")
}

// Close withdraws every route and stops BIRD: `down` ends each session
// with a Cease NOTIFICATION, so routers drop the routes at once. A BIRD
// still running stopTimeout later is stopped by the runner's kill policy
// (SIGTERM to its process group, SIGKILL after runner.DefaultKillGrace).
func (s *Speaker) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil || p.Exited() {
		s.proc = nil
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	err := s.command(ctx, "down")
	select {
	case <-p.Done():
		err = nil // BIRD may close the socket before its reply: the exit is the answer
	case <-ctx.Done():
		p.Stop()
		err = errors.Join(err, fmt.Errorf("bgp: BIRD did not exit within %v of down; stopped: %s", stopTimeout, p.Reason()))
	}
	s.proc = nil
	return err
}
