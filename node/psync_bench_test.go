package node

import (
	"net/netip"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/ha/link"
	"github.com/hapair/hapair/ha/wire"
	"github.com/hapair/hapair/internal/realtime"
	"github.com/hapair/hapair/internal/testkit"
)

// The persistence sync bench (make bench): syncers on loopback, the owner
// with 1,000,000 entries. It reports the full resync's time and bytes on
// the wire, the steady state at 10,000 new entries per second (bytes/s on
// the wire, and the CPU of both sides together, as one process runs both),
// and the p99 jitter of heartbeats sent every 10 ms on their own sockets,
// without and during a resync. On a machine shared with other work the
// figures are as measured there.

const benchEntries = 1_000_000

// wireOverhead is what a sync datagram carries besides its message: the
// heartbeat header and MAC (sealed with the test keyring) and IPv4 + UDP.
func wireOverhead(b *testing.B) uint64 {
	s, err := wire.Seal(&wire.Packet{ClusterID: syncCluster, Sender: "lb1", Generation: 1, Seq: 1, Keepalive: 100 * time.Millisecond}, testkit.Keyring("cluster-secret"))
	if err != nil {
		b.Fatal(err)
	}
	return uint64(len(s) + 28)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchClient(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// fullOwner is a table of benchEntries entries with no changes pending.
func fullOwner() *tables {
	owner := newTables("http")
	for i := range benchEntries {
		owner.m["http"].Put(benchClient(i), syncReal)
	}
	owner.m["http"].Changes(2 * benchEntries)
	return owner
}

func waitSyncedBench(b *testing.B, n *syncNode, from string) time.Duration {
	start := time.Now()
	for !n.syncedFrom(from) {
		if time.Since(start) > time.Minute {
			b.Fatal("no full resync within a minute")
		}
		time.Sleep(time.Millisecond) // polling period of a bench
	}
	return time.Since(start)
}

func BenchmarkSyncResync1M(b *testing.B) {
	for range b.N {
		b.StopTimer()
		port := testkit.FreeUDPPair(b)
		lb1 := startSyncer(b, "lb1", 1, port, fullOwner(), nil)
		b.StartTimer()
		lb2 := startSyncer(b, "lb2", 1, port, newTables("http"), nil)
		took := waitSyncedBench(b, lb2, "lb1")
		b.StopTimer()
		c, _ := lb1.status(nil)
		b.ReportMetric(took.Seconds(), "s/resync")
		b.ReportMetric(float64(c.PayloadBytes+c.Messages*wireOverhead(b))/1e6, "MB-on-wire")
		b.ReportMetric(float64(lb2.tab.entries("http")), "entries-received")
		lb2.stop()
		lb1.stop()
	}
}

func BenchmarkSyncSteady10kPerSecond(b *testing.B) {
	for range b.N {
		port := testkit.FreeUDPPair(b)
		owner := newTables("http")
		lb1 := startSyncer(b, "lb1", 1, port, owner, nil)
		lb2 := startSyncer(b, "lb2", 1, port, newTables("http"), nil)
		waitSyncedBench(b, lb2, "lb1")
		c0, _ := lb1.status(nil)
		cpu0, start := cpuTime(), time.Now()
		const ticks, perTick = 300, 100 // 100 new clients every 10 ms for 3 s
		tick := time.NewTicker(10 * time.Millisecond)
		for i := range ticks {
			<-tick.C
			for j := range perTick {
				owner.m["http"].Put(benchClient(i*perTick+j), syncReal)
			}
		}
		tick.Stop()
		elapsed := time.Since(start)
		cpu := cpuTime() - cpu0
		c1, _ := lb1.status(nil)
		bytes := (c1.PayloadBytes - c0.PayloadBytes) + (c1.Messages-c0.Messages)*wireOverhead(b)
		b.ReportMetric(float64(bytes)/elapsed.Seconds(), "wire-B/s")
		b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "%CPU-both-sides")
		if got := lb2.tab.entries("http"); got < ticks*perTick*9/10 {
			b.Errorf("lb2 holds %d of %d new entries", got, ticks*perTick)
		}
		lb2.stop()
		lb1.stop()
	}
}

// BenchmarkHeartbeatJitter sends 300 heartbeats 10 ms apart on their own
// link set and reports the p99 of |inter-arrival - 10 ms|, idle and while
// a 1M-entry resync runs on the sync sockets; then the same with the
// heartbeat path realtime (cluster.realtime): sent from a SCHED_RR thread
// sleeping in ppoll, read by the link set's SCHED_RR thread and timed
// there (OnReceive), as had runs it.
func BenchmarkHeartbeatJitter(b *testing.B) {
	for _, rt := range []bool{false, true} {
		for _, withSync := range []bool{false, true} {
			name := "idle"
			if withSync {
				name = "during-resync"
			}
			if rt {
				name += "-realtime"
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					heartbeatJitter(b, rt, withSync)
				}
			})
		}
	}
}

func heartbeatJitter(b *testing.B, rt, withSync bool) {
	if rt { // as had sets itself up for cluster.realtime
		before, _ := realtime.ReserveProcs(realtime.Threads)
		defer runtime.GOMAXPROCS(before)
	}
	hbPort := testkit.FreeUDPPair(b)
	hb := func(self string) *link.Set {
		s, err := link.Open(link.Config{ClusterID: syncCluster, Self: self, Nodes: []string{"lb1", "lb2", "lb3"},
			Keyring:  testkit.Keyring("cluster-secret"),
			Links:    []link.Spec{{Name: "ucast0", Kind: link.KindUcast, Port: hbPort, Peers: syncAddrs}},
			Realtime: rt})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	tx, rx := hb("lb1"), hb("lb2")
	var lb1, lb2 *syncNode
	if withSync {
		port := testkit.FreeUDPPair(b)
		lb1 = startSyncer(b, "lb1", 1, port, fullOwner(), nil)
		lb2 = startSyncer(b, "lb2", 1, port, newTables("http"), nil)
	}
	const n = 300
	arrivals := make(chan time.Time, n)
	stop := make(chan struct{})
	defer close(stop)
	if rt {
		rx.OnReceive(func() {
			select {
			case arrivals <- time.Now():
			default:
			}
		})
	}
	go func() {
		for {
			select {
			case <-rx.Received():
				if !rt {
					arrivals <- time.Now()
				}
			case <-stop:
				return
			}
		}
	}()
	if err := sendEvery(tx, n, 10*time.Millisecond, rt); err != nil {
		b.Fatal(err)
	}
	var ts []time.Time
	timeout := time.After(5 * time.Second)
collect:
	for range n {
		select {
		case at := <-arrivals:
			ts = append(ts, at)
		case <-timeout:
			break collect
		}
	}
	var jit []time.Duration
	for i := 1; i < len(ts); i++ {
		d := ts[i].Sub(ts[i-1]) - 10*time.Millisecond
		jit = append(jit, max(d, -d))
	}
	slices.Sort(jit)
	b.ReportMetric(float64(jit[len(jit)*99/100].Microseconds())/1000, "ms-p99-jitter")
	b.ReportMetric(float64(n-len(ts)), "heartbeats-lost")
	if withSync {
		b.ReportMetric(boolMetric(lb2.syncedFrom("lb1")), "resync-done-by-end")
		lb2.stop()
		lb1.stop()
	}
}

// sendEvery sends n heartbeats every interval: from a Go ticker, or (rt)
// from a SCHED_RR thread sleeping in ppoll until each send, as the agent's
// realtime loop does.
func sendEvery(tx *link.Set, n int, interval time.Duration, rt bool) error {
	send := func() error { return tx.Send(&wire.Packet{Generation: 1, Keepalive: interval}) }
	if !rt {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range n {
			<-tick.C
			if err := send(); err != nil {
				return err
			}
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() { // ends locked: its thread ends with it
		realtime.LockThread(realtime.Priority) // at normal priority when refused
		w, err := realtime.NewWaiter()
		if err != nil {
			errc <- err
			return
		}
		defer w.Close()
		next := time.Now()
		for range n {
			next = next.Add(interval)
			for d := time.Until(next); d > 0; d = time.Until(next) {
				if _, err := w.Wait(d); err != nil {
					errc <- err
					return
				}
			}
			if err := send(); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	return <-errc
}

func boolMetric(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
