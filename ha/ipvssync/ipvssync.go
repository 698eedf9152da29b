package ipvssync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"

	"github.com/hapair/hapair/internal/field"
)

// Config describes one ipvs-sync resource.
type Config struct {
	// Role is the daemon state on the group's owner: "master" (the usual
	// case) or "backup" (LVSSyncDaemonSwap::backup, mirrored: the owner
	// receives and the standby sends). Required.
	Role string
	// Interface carries the sync multicast (ipvsadm --mcast-interface).
	// Required, at most 15 bytes.
	Interface string
	// SyncID tags this cluster's sync messages (ipvsadm --syncid, 0..255,
	// default 0); backups ignore messages with another id.
	SyncID uint8

	Kernel Kernel       // required: OpenNetlink("") in production
	Logger *slog.Logger // default: discard
}

// Resource is the ipvs-sync resource. Start, Stop, Status and RemoveStale
// are safe for concurrent use; Start, Stop and RemoveStale are serialized.
type Resource struct {
	k       Kernel
	log     *slog.Logger
	owner   Daemon // the daemon the group's owner runs
	standby Daemon // the daemon every other node runs
	name    string

	mu sync.Mutex
}

// New validates cfg and returns the resource. It touches nothing: the
// kernel is asked only by Start, Stop, Status and RemoveStale (use Check
// at startup to learn early that the kernel has no IPVS).
func New(cfg Config) (*Resource, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ipvs-sync: %w", err)
	}
	own := StateMaster
	if cfg.Role == RoleBackup {
		own = StateBackup
	}
	if cfg.Kernel == nil {
		return nil, fmt.Errorf("ipvs-sync: %s on %q: no kernel access configured", cfg.Role, cfg.Interface)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	id := uint32(cfg.SyncID)
	return &Resource{
		k:       cfg.Kernel,
		log:     cfg.Logger,
		owner:   Daemon{State: own, Interface: cfg.Interface, SyncID: id},
		standby: Daemon{State: own.other(), Interface: cfg.Interface, SyncID: id},
		name:    fmt.Sprintf("ipvs-sync %s %s syncid %d", cfg.Role, cfg.Interface, id),
	}, nil
}

// Roles, as LVSSyncDaemonSwap names them.
const (
	RoleMaster = "master"
	RoleBackup = "backup"
)

// Validate reports every problem in c's role and interface (not its
// handles) as *field.Error values naming "role" and "interface".
func (c *Config) Validate() error {
	var errs []error
	switch c.Role {
	case RoleMaster, RoleBackup:
	case "":
		errs = append(errs, field.Errorf("role", "required: %s or %s", RoleMaster, RoleBackup))
	default:
		errs = append(errs, field.Errorf("role", "%q is not one of %s, %s", c.Role, RoleMaster, RoleBackup))
	}
	switch s := c.Interface; {
	case s == "":
		errs = append(errs, field.Errorf("interface", "required"))
	case len(s) > maxIfnameLen:
		errs = append(errs, field.Errorf("interface", "%q: longer than %d bytes", s, maxIfnameLen))
	case strings.ContainsAny(s, "\x00/ \t\n"):
		errs = append(errs, field.Errorf("interface", "%q: not a valid interface name", s))
	}
	return errors.Join(errs...)
}

// Name returns "ipvs-sync master eth0 syncid 1".
func (r *Resource) Name() string { return r.name }

// Start makes this node the sender (for role master): it stops the standby
// daemon first, so the node never takes in sync messages while it sends
// them, then starts the owner daemon. A daemon already running as wanted is
// kept; one of the right state on another interface or sync id is
// restarted.
func (r *Resource) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.daemons(ctx)
	if err != nil {
		return err
	}
	if _, err := r.stopRunning(ds, r.standby.State); err != nil {
		return err
	}
	return r.ensure(ds, r.owner)
}

// Stop gives the group up: it stops the owner daemon, then starts the
// standby daemon so this node receives the new owner's updates. Only a
// failure to stop the owner daemon fails Stop: the group is released
// either way, and failing it would bar this node from taking the group
// back; a standby daemon that does not start is logged and retried by
// RemoveStale. With no IPVS in the kernel there is nothing to stop.
func (r *Resource) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.daemons(ctx)
	if errors.Is(err, ErrNoIPVS) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := r.stopRunning(ds, r.owner.State); err != nil {
		return err
	}
	if err := r.ensure(ds, r.standby); err != nil {
		r.log.Warn("sync daemon not started after release", "iface", r.standby.Interface,
			"reason", "connection updates from the new owner are not received", "err", err)
	}
	return nil
}

// RemoveStale puts a node that does not own the group in the standby role:
// it stops an owner daemon left running (reporting true) and starts the
// standby daemon if it is not running. Without it a node that starts as
// standby would never run the backup daemon, since Stop runs only on a node
// that held the group.
func (r *Resource) RemoveStale(ctx context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds, err := r.daemons(ctx)
	if errors.Is(err, ErrNoIPVS) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	removed, err := r.stopRunning(ds, r.owner.State)
	if err != nil {
		return false, err
	}
	return removed, r.ensure(ds, r.standby)
}

// Status reports nil when the owner daemon runs with this resource's
// interface and sync id.
func (r *Resource) Status(ctx context.Context) error {
	ds, err := r.daemons(ctx)
	if err != nil {
		return err
	}
	d, ok := find(ds, r.owner.State)
	switch {
	case !ok:
		return fmt.Errorf("ipvs-sync: %s sync daemon not running", r.owner.State)
	case d != r.owner:
		return fmt.Errorf("ipvs-sync: %s sync daemon runs on %q syncid %d, want %q syncid %d",
			d.State, d.Interface, d.SyncID, r.owner.Interface, r.owner.SyncID)
	}
	return nil
}

// daemons lists the sync daemons running, unless ctx is done already.
func (r *Resource) daemons(ctx context.Context) ([]Daemon, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds, err := r.k.Daemons()
	if err != nil && !errors.Is(err, ErrNoIPVS) {
		return nil, fmt.Errorf("ipvs-sync: listing sync daemons: %w", err)
	}
	return ds, err
}

// ensure makes want run, given the daemons ds running before: a daemon of
// the same state with another interface or sync id is stopped first.
func (r *Resource) ensure(ds []Daemon, want Daemon) error {
	if d, ok := find(ds, want.State); ok {
		if d == want {
			return nil
		}
		r.log.Info("restarting sync daemon with new settings", "iface", want.Interface,
			"reason", fmt.Sprintf("running %s, want %s", d, want))
		if err := r.stop(want.State); err != nil {
			return err
		}
	}
	// EEXIST: started by someone else since the listing; Status tells
	// whether its settings match.
	return daemonErrf(r.k.StartDaemon(want), syscall.EEXIST, "starting %s sync daemon on %q syncid %d", want.State, want.Interface, want.SyncID)
}

// stopRunning stops the daemon of state s when ds lists it, and reports
// whether it did.
func (r *Resource) stopRunning(ds []Daemon, s State) (bool, error) {
	if _, ok := find(ds, s); !ok {
		return false, nil
	}
	if err := r.stop(s); err != nil {
		return false, err
	}
	return true, nil
}

// stop stops the daemon of state s; one already gone (ESRCH) is fine.
func (r *Resource) stop(s State) error {
	return daemonErrf(r.k.StopDaemon(s), syscall.ESRCH, "stopping %s sync daemon", s)
}

// daemonErrf maps the error of a daemon start or stop: nil, or done
// (the daemon was already in the wanted state), is nil; ErrNoIPVS is
// returned as is; anything else is wrapped, saying what was being done.
func daemonErrf(err error, done syscall.Errno, format string, args ...any) error {
	switch {
	case err == nil, errors.Is(err, done):
		return nil
	case errors.Is(err, ErrNoIPVS):
		return err
	}
	return fmt.Errorf("ipvs-sync: %s: %w", fmt.Sprintf(format, args...), err)
}

func find(ds []Daemon, s State) (Daemon, bool) {
	for _, d := range ds {
		if d.State == s {
			return d, true
		}
	}
	return Daemon{}, false
}
