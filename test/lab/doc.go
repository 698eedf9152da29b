// Package lab builds the project's own test hosts in network namespaces, for
// the e2e tests, the demo and the benchmarks.
//
//	host (ns <id>-NAME)          switch (ns <id>-sw; root ns untouched)
//	───────────────────────────  ───────────────────────────────────────
//	lb1       eth0 198.18.0.11 ──┐
//	lb2       eth0 198.18.0.12 ──┤
//	backend1  eth0 198.18.0.21 ──┤ br0: LAN 198.18.0.0/24
//	backend2  eth0 198.18.0.22 ──┤      (VIP 198.18.0.100 left free)
//	client    eth0 198.18.0.50 ──┘
//	lb1       eth1 198.18.1.11 ──┐ br1: heartbeat LAN 198.18.1.0/24
//	lb2       eth1 198.18.1.12 ──┘      (Options.HeartbeatLAN)
//
//	lbN is .10+N (Options.Nodes), backendN .20+N (Options.Backends).
//
//	With Options.Router: router eth0 198.18.0.1 on LAN, eth1 198.18.4.1 on
//	br2 (ClientLAN 198.18.4.0/24), forwarding; the client moves behind it
//	(eth0 198.18.4.50 on br2, default route via the router), and every
//	other host routes 198.18.4.0/24 via 198.18.0.1.
//
// Each host is a namespace named hp-<test pid>-<4 hex>-<host>, with lo up,
// eth0 on LAN (and eth1 on the heartbeat LAN for lb nodes), a fixed MAC
// 02:68:70:00:<lan>:<last octet> so failure messages name hosts, and IPv6 off
// unless Options.IPv6. Only 198.18.0.0/15 (RFC 2544) is used; the bridges
// live in their own namespace with multicast snooping off, so heartbeat
// multicast floods like on a plain switch. The kernel's neighbour and ARP
// defaults are kept (see Lab.sysctls) so tests see real-host behaviour.
//
// # Usage
//
//	func TestMain(m *testing.M) { os.Exit(lab.Main(m)) }
//
//	func TestFailover(t *testing.T) {
//		bins := lab.BuildBinaries(t)               // once per process
//		l := lab.New(t, lab.Options{})             // skips without root/ip/nft
//		l.StartLabsrv(bins)                        // backend1, backend2
//		had1 := l.Host("lb1").StartHad(bins, cfg, keys)
//		pr := l.StartProbe(bins, "client", "198.18.0.100:9000", probe.Options{Count: 500})
//		had1.Signal(syscall.SIGKILL)
//		lab.Eventually(t, 2*time.Second, "lb2 holds the VIP", func() error { ... l.HasAddr("lb2", lab.VIP) ... })
//		res, err := pr.Result(10 * time.Second)   // res.Longest is the outage
//	}
//
// Every function that takes a test takes a T: *testing.T and *testing.B
// satisfy it, and test/demo (a program, `make demo`) has its own, whose Fatal
// runs the cleanups and exits.
//
// Faults: Partition, PartitionLink, PartitionHeartbeats, Isolate, Loss,
// LossHeartbeats (nftables table hapair_lab inside the hosts), Unplug/Plug
// (switch port down), Heal.
//
// Cleanup: New registers, before it creates anything, one t.Cleanup that
// SIGTERMs every process started with Host.Start (SIGKILL to its process
// group after Options.StopTimeout), deletes the nftables tables and the
// namespaces (which takes their veths and bridges), and fails the test if any
// namespace is left. It runs on failure and panic too; when the test failed it
// logs every host's addresses, neighbours and rules, and every process's
// output (HAPAIR_LAB_LOGS=1 logs output always). Namespaces left by a test
// binary that was killed (-timeout runs no cleanup) are removed by the next
// New: only names of this package's pattern whose test process is dead.
//
// The lab must not touch the root namespace, use addresses outside
// 198.18.0.0/15, or kill any process it did not start (only by PID or that
// PID's process group). Without root, ip or nft, New skips the test, or fails
// it when HAPAIR_E2E=1 (STYLE.md rule 13). Like wireguard-go's tests/netns.sh.
package lab
