// Package ipvssynctest provides a fake ipvssync.Kernel that keeps sync
// daemons in memory and records every change as a text trace, for tests of
// the ipvs-sync resource and of programs that build it. It touches nothing
// outside memory.
package ipvssynctest

import (
	"sync"
	"syscall"

	"github.com/hapair/hapair/ha/ipvssync"
	"github.com/hapair/hapair/ha/resource/resourcetest"
)

// Kernel is a fake IPVS: at most one daemon per state, EEXIST and ESRCH as
// the kernel answers them. Each StartDaemon and StopDaemon call adds one
// line to Trace, also when it fails:
//
//	daemon start master mcast_ifn=eth0 syncid=1
//	daemon stop backup
//
// Listing is not traced: it changes nothing. Set the fields before use;
// the methods are safe for concurrent use.
type Kernel struct {
	Trace *resourcetest.Trace

	// NoIPVS makes every call return ipvssync.ErrNoIPVS (ip_vs not loaded).
	NoIPVS bool
	// StartErr, StopErr and ListErr are returned (after tracing) instead
	// of doing the operation; StartErr may be keyed by state.
	StartErr map[ipvssync.State]error
	StopErr  map[ipvssync.State]error
	ListErr  error

	mu      sync.Mutex
	daemons map[ipvssync.State]ipvssync.Daemon
}

var _ ipvssync.Kernel = (*Kernel)(nil)

// New returns a fake kernel tracing into tr with the given daemons already
// running (untraced: the state before the test).
func New(tr *resourcetest.Trace, running ...ipvssync.Daemon) *Kernel {
	k := &Kernel{Trace: tr, daemons: map[ipvssync.State]ipvssync.Daemon{}}
	for _, d := range running {
		k.daemons[d.State] = d
	}
	return k
}

// Available returns ErrNoIPVS when NoIPVS is set.
func (k *Kernel) Available() error {
	if k.NoIPVS {
		return ipvssync.ErrNoIPVS
	}
	return nil
}

// StartDaemon traces "daemon start STATE mcast_ifn=IF syncid=N".
func (k *Kernel) StartDaemon(d ipvssync.Daemon) error {
	return k.daemonCall("daemon start "+d.String(), k.StartErr[d.State], func() error {
		if _, ok := k.daemons[d.State]; ok {
			return syscall.EEXIST
		}
		k.daemons[d.State] = d
		return nil
	})
}

// StopDaemon traces "daemon stop STATE".
func (k *Kernel) StopDaemon(s ipvssync.State) error {
	return k.daemonCall("daemon stop "+s.String(), k.StopErr[s], func() error {
		if _, ok := k.daemons[s]; !ok {
			return syscall.ESRCH
		}
		delete(k.daemons, s)
		return nil
	})
}

// daemonCall is a daemon start or stop: ErrNoIPVS when NoIPVS is set,
// else it traces line and returns injected when set, or what apply (run
// with the lock held) returns.
func (k *Kernel) daemonCall(line string, injected error, apply func() error) error {
	if k.NoIPVS {
		return ipvssync.ErrNoIPVS
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.Trace.Add(line)
	if injected != nil {
		return injected
	}
	return apply()
}

// Daemons lists the running daemons, master first, as the kernel does.
func (k *Kernel) Daemons() ([]ipvssync.Daemon, error) {
	if k.NoIPVS {
		return nil, ipvssync.ErrNoIPVS
	}
	if k.ListErr != nil {
		return nil, k.ListErr
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var ds []ipvssync.Daemon
	for _, s := range []ipvssync.State{ipvssync.StateMaster, ipvssync.StateBackup} {
		if d, ok := k.daemons[s]; ok {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// Set replaces the running daemons without tracing, as another tool
// (ipvsadm) would behind the resource's back.
func (k *Kernel) Set(running ...ipvssync.Daemon) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.daemons = map[ipvssync.State]ipvssync.Daemon{}
	for _, d := range running {
		k.daemons[d.State] = d
	}
}
