package ipvssync

import (
	"errors"
	"fmt"
)

// State is a sync daemon's role, the kernel's IP_VS_STATE_* value.
type State uint32

// The kernel's IP_VS_STATE_MASTER and IP_VS_STATE_BACKUP (ip_vs.h). A
// master multicasts connection updates; a backup receives them. The kernel
// runs at most one daemon of each state per network namespace.
const (
	StateMaster State = 1
	StateBackup State = 2
)

func (s State) String() string {
	switch s {
	case StateMaster:
		return "master"
	case StateBackup:
		return "backup"
	}
	return fmt.Sprintf("State(%d)", uint32(s))
}

// other returns the opposite state: the standby's state for an owner's.
func (s State) other() State {
	if s == StateMaster {
		return StateBackup
	}
	return StateMaster
}

// Daemon is one sync daemon as the kernel reports it (ipvsadm
// --list-daemon).
type Daemon struct {
	State     State
	Interface string // multicast interface (IPVS_DAEMON_ATTR_MCAST_IFN)
	SyncID    uint32 // IPVS_DAEMON_ATTR_SYNC_ID; backups drop messages of other ids
}

func (d Daemon) String() string {
	return fmt.Sprintf("%s mcast_ifn=%s syncid=%d", d.State, d.Interface, d.SyncID)
}

// Kernel is the part of the kernel the resource needs. The production
// implementation is Netlink; ipvssynctest.Kernel records a text trace.
//
// StartDaemon fails with an error matching syscall.EEXIST when a daemon of
// that state already runs, and StopDaemon with syscall.ESRCH when none
// does, as the kernel does; every method returns ErrNoIPVS when the kernel
// has no IPVS.
type Kernel interface {
	Available() error // nil when the kernel has IPVS, else ErrNoIPVS or why it could not tell
	StartDaemon(d Daemon) error
	StopDaemon(s State) error
	Daemons() ([]Daemon, error)
}

// ErrNoIPVS means the kernel has no IPVS: the ip_vs module is not loaded
// (or not built), so the "IPVS" generic netlink family does not exist.
var ErrNoIPVS = errors.New(`ipvs-sync: the kernel has no IPVS (generic netlink family "IPVS" not found; modprobe ip_vs)`)

// maxIfnameLen is IP_VS_IFNAME_MAXLEN (16) less the terminating NUL; the
// kernel also caps interface names at IFNAMSIZ-1 = 15.
const maxIfnameLen = 15
