// Command demo is `make demo`: it shows a newcomer what hapair does, in a
// lab of network namespaces on this machine, in about 15 seconds.
//
// It builds had, hactl and the lab's helpers, creates the lab (test/lab:
// lb1, lb2, two backends running labsrv, a client; a second LAN for
// heartbeats), starts had on both nodes with a generated config (VIP
// 198.18.0.100, the balancer in HTTP mode on it, keepalive 50ms, deadtime
// 200ms), and has the client probe the VIP every 10ms while it crashes the
// owner (SIGKILL and cables unplugged), brings it back, and moves the VIP
// back with `hactl standby`. It prints a timeline; every figure in it is
// measured: a take-over lasts from the event until the new owner has the
// VIP bound (had's own takeover timeline, checked with `ip addr`) and the
// client gets answers again (the probes' outage).
//
// It must leave nothing behind: every namespace (with its links and
// bridges), nftables table, process (stopped by PID) and temp file goes,
// also when a step fails (exit 1, the reason on stderr and the lab's log in
// a file) and on SIGINT/SIGTERM (exit 128+signal). Only 198.18.0.0/15 is
// used, inside the lab's namespaces; the root namespace is not touched.
// Without root, ip or nft it says what is missing and exits 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hapair/hapair/test/lab"
)

func main() {
	verbose := flag.Bool("v", false, "also print the lab's log (builds, processes) to stderr")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: demo [-v]\n\nRuns a hapair pair in network namespaces and prints a failover timeline (root, ip and nft needed).\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*verbose))
}

// run runs the demo and returns the exit code, having cleaned up.
func run(verbose bool) (code int) {
	if what := lab.Missing(); what != "" {
		fmt.Fprintf(os.Stderr, "demo: missing %s: run it as root on Linux with iproute2 and nftables installed (`make deps-sys` installs them)\n", what)
		return 1
	}
	t := &demoT{}
	if verbose {
		t.verbose = os.Stderr
	}

	// A signal cleans up from its own goroutine, then exits: the step the
	// main goroutine is in may be a blocking one (a build, a probe).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := (<-sigs).(syscall.Signal)
		t.interrupted.Store(int32(sig))
		fmt.Fprintf(os.Stderr, "\ndemo: %v: cleaning up\n", sig)
		t.runCleanups()
		os.Exit(128 + int(sig))
	}()

	defer func() {
		r := recover()
		if r != nil {
			fl, ok := r.(failure)
			if !ok {
				t.runCleanups()
				panic(r)
			}
			if t.interrupted.Load() == 0 {
				fmt.Fprintf(os.Stderr, "demo: %s\n", fl.msg)
			}
		}
		t.runCleanups()
		if sig := t.interrupted.Load(); sig != 0 {
			code = 128 + int(sig)
			return
		}
		if r != nil || t.Failed() {
			code = 1
			if path, err := t.saveLog(); err == nil {
				fmt.Fprintf(os.Stderr, "demo: failed; the lab's log (processes' output, hosts' state) is in %s\n", path)
			}
		}
	}()
	t.Cleanup(lab.RemoveBinaries) // registered first, so it runs last
	newDemo(t).run()
	return 0
}
