package proxy

import (
	"os"
	"runtime"
)

// minProcs is the fewest Ps (GOMAXPROCS) the balancer's process runs
// with. With one P, Go polls the network only when no goroutine is left
// to run (or from sysmon, every 10 ms): under load the HTTP fast path's
// connections ran on, each serving its next request as soon as the last
// answer was out, and one that had to wait for the poller waited 2.9 ms
// at the median and up to 18 ms (a runtime trace of the bench's HTTP
// keep-alive cell: 231 polls a second). With a second P, idle, a thread
// waits in epoll_wait meanwhile and runs a connection as soon as its
// bytes come, on the same CPU: it is not another core (the CPUs the
// process may use are unchanged; evloop keeps one loop per CPU). Pinned
// to one CPU, HTTP keep-alive A/B against one P, three runs: req/s
// 1.13/1.01/1.14x, p99 0.67/0.82/0.70x, CPU per request 0.97/1.04/0.96x;
// L4 keep-alive and HTTP close within the noise (req/s 0.99x both).
const minProcs = 2

// tuneProcs raises GOMAXPROCS to minProcs when it is below and was not
// set by the environment (GOMAXPROCS=1 there still means one P). New
// calls it: the process that runs a balancer is tuned for it.
func tuneProcs() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}
