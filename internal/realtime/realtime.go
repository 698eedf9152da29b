// Package realtime runs the heartbeat path on realtime OS threads, as
// Heartbeat's `realtime on` (sched_setscheduler SCHED_RR and mlockall) and
// keepalived's vrrp_rt_priority and vrrp_no_swap do, so a machine loaded
// by other work still sends and reads heartbeats on time.
//
// Go's timers and network poller run on whatever OS thread the runtime
// picks, at normal priority: a realtime thread that waited on a channel or
// a time.Timer would still wait for those threads to be scheduled. So a
// heartbeat thread waits only in the kernel: Waiter.Wait blocks the thread
// in ppoll(2) on its own file descriptors (the link sockets, an eventfd
// other goroutines wake it with) with the next deadline as the timeout,
// and the kernel wakes it by priority when a packet or the deadline comes.
//
// Linux only (sched_setattr(2), ppoll(2), eventfd(2)).
package realtime

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Priority is the SCHED_RR priority of heartbeat threads (1..99, see
// sched(7)): modest, below the kernel's threaded interrupt handlers (50),
// so the NIC interrupts that deliver heartbeats still preempt us, and above
// every normal (SCHED_OTHER) task, whatever its nice value.
const Priority = 10

// ErrNotPermitted is returned (wrapped) by LockThread when the kernel
// refuses realtime scheduling (no CAP_SYS_NICE, RLIMIT_RTPRIO 0, or a
// cgroup without a realtime budget). The thread stays locked and runs at
// normal priority: the caller logs it once and goes on.
var ErrNotPermitted = errors.New("realtime scheduling not permitted")

// LockThread wires the calling goroutine to its OS thread for good
// (runtime.LockOSThread, never undone: the thread ends with the goroutine,
// so no other goroutine ever runs on it at realtime priority) and sets that
// thread to SCHED_RR at prio. SCHED_RESET_ON_FORK keeps the policy out of
// threads and programs forked from it (notify hooks run by the agent). It
// returns ErrNotPermitted (wrapped) when the kernel refuses.
func LockThread(prio int) error {
	runtime.LockOSThread()
	attr := unix.SchedAttr{Policy: unix.SCHED_RR, Flags: unix.SCHED_FLAG_RESET_ON_FORK, Priority: uint32(prio)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("realtime: setting thread %d to SCHED_RR priority %d: %w: %w", unix.Gettid(), prio, ErrNotPermitted, err)
		}
		return fmt.Errorf("realtime: setting thread %d to SCHED_RR priority %d: %w", unix.Gettid(), prio, err)
	}
	return nil
}

// Policy returns the calling thread's scheduling policy (unix.SCHED_NORMAL,
// unix.SCHED_RR, ...), its realtime priority and whether it resets on
// fork.
func Policy() (policy, prio int, resetOnFork bool, err error) {
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return 0, 0, false, fmt.Errorf("realtime: reading thread %d's policy: %w", unix.Gettid(), err)
	}
	return int(attr.Policy), int(attr.Priority), attr.Flags&unix.SCHED_FLAG_RESET_ON_FORK != 0, nil
}

// Threads is how many goroutines had runs locked on SCHED_RR threads: the
// agent loop and the link reader.
const Threads = 2

// ReserveProcs raises GOMAXPROCS by n, one P per realtime thread, and
// returns the values before and after. A realtime thread that wakes from
// ppoll needs a P to run Go code; when every P is held by a normal thread
// the kernel has descheduled under load (the balancer's goroutines, a
// persistence resync), the runtime queues the woken goroutine until one of
// those threads runs again, and the heartbeat waits behind the very load
// SCHED_RR was meant to beat. Spare Ps are idle while the heartbeat threads
// sleep, so a woken thread usually takes one at once; the runtime may still
// lend them to normal goroutines when it has many runnable.
func ReserveProcs(n int) (before, after int) {
	before = runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(before + n)
	return before, before + n
}

// LockMemory locks every page the process has and will fault in
// (mlockall(2) MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT), as Heartbeat's realtime
// and keepalived's vrrp_no_swap do: a heartbeat never waits for its code or
// data to come back from swap. MCL_ONFAULT locks a page when it is first
// touched, so the address space Go reserves but never uses costs nothing.
func LockMemory() error {
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		return fmt.Errorf("realtime: locking memory (mlockall): %w", err)
	}
	return nil
}
