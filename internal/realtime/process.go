package realtime

import (
	"log/slog"

	"golang.org/x/sys/unix"
)

// PrepareProcess readies the whole process for realtime heartbeat threads,
// once at start, before any of them runs: it locks memory where that is
// safe (lockMemory), raises the garbage collector's floor (raiseGCFloor)
// and gives each of the Threads realtime threads a spare P
// (ReserveProcs). Nothing here fails: what the host refuses is logged and
// had goes on at normal priority.
func PrepareProcess(log *slog.Logger) {
	lockMemory(log)
	raiseGCFloor()
	before, after := ReserveProcs(Threads)
	log.Debug("GOMAXPROCS raised for the realtime heartbeat threads", "from", before, "to", after)
}

// lockMemory locks had's memory for `realtime = true` (Heartbeat's
// realtime, keepalived's vrrp_no_swap), only where it cannot later fail an
// allocation: with MCL_FUTURE, a heap growing past RLIMIT_MEMLOCK makes the
// kernel refuse Go's mmap and the runtime dies, which would turn a local
// shortage into an outage. So it locks when CAP_IPC_LOCK lifts the limit
// or the limit is infinite (systemd's LimitMEMLOCK=infinity), and
// otherwise logs why not, once, and goes on unlocked.
func lockMemory(log *slog.Logger) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		log.Warn("memory not locked: reading RLIMIT_MEMLOCK failed; heartbeats may wait for swap", "err", err)
		return
	}
	if lim.Cur != unix.RLIM_INFINITY && !hasCapability(unix.CAP_IPC_LOCK) {
		log.Warn("memory not locked: no CAP_IPC_LOCK and RLIMIT_MEMLOCK is finite (a locked heap past it would kill had); heartbeats may wait for swap",
			"memlock_bytes", lim.Cur)
		return
	}
	if err := LockMemory(); err != nil {
		log.Warn("memory not locked; heartbeats may wait for swap", "err", err)
	}
}

// gcBallast is the size of a heap allocation had keeps and never touches,
// so the garbage collector's goal starts at twice it rather than at 4 MiB.
const gcBallast = 64 << 20

// ballast keeps the allocation alive for the life of the process.
var ballast []byte

// raiseGCFloor makes Go's garbage collections rare (every ~128 MiB
// allocated instead of every few MiB with had's small heap). Each one
// stops the world, and a stop waits for every thread running Go code to
// reach a safe point: on a loaded machine a normal-priority thread the
// kernel has descheduled holds that up, and the realtime heartbeat threads
// stop with everyone (the chaos suite's CPU pressure scenario showed a
// 371 ms stop, GODEBUG=gctrace=1, that cost a false failover). The pages
// are never written, so the kernel never backs them: no RSS, and nothing
// for mlockall's MCL_ONFAULT to lock. A heartbeat process apart from the
// balancer (keepalived's VRRP child) would remove the stop itself.
func raiseGCFloor() {
	ballast = make([]byte, gcBallast)
}

// hasCapability reports whether capability c is in had's effective set.
func hasCapability(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}
