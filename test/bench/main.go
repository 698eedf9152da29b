// Command bench measures the embedded balancer (package proxy) side by side
// with HAProxy and nginx on loopback, as DESIGN.md's "Numbers to reach"
// asks: the same two backends (one nginx process serving a fixed body on
// two ports), the same load (wrk, fixed threads, connections and
// duration), L4 and HTTP mode, with keep-alive and with a new connection
// per request, plus direct-to-backend as the reference; a UDP cell
// (datagrams/s through a service with -flows active flows, hapair vs nginx
// stream udp; HAProxy has no UDP proxying); the idle daemon's CPU; and
// health checks of 1,000 reals.
//
// By default it pins the load generator to CPU 0 and every proxy and
// backend to CPU 1 (taskset), so the proxies compete for one core the same
// way whatever else the machine runs; -pin=false leaves scheduling to the
// kernel. Each target runs -rounds times, interleaved (round 1 of every
// target, then round 2, ...), so a change in background load falls on all
// of them alike; the table gives medians and min–max per cell, and the
// ratios against the anchors are taken round by round (pairedRatios), with
// each median ratio's 95% interval (medianCI). -samples keeps every round
// in a file and -pool prints the tables of the rounds of many runs
// together.
//
// It owns only its temp directory and the processes it starts (stopped by
// PID); it listens and connects on 127.0.0.1 and 127.0.0.2 only. Run it
// through run.sh (`make bench`), which installs haproxy, nginx and wrk when
// missing.
//
// The hapair side runs as a child process of this same binary
// (-serve-hapair), so each proxy is a separate process.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hapair/hapair/internal/runner"
	"github.com/hapair/hapair/test/bench/benchconf"
)

// The default rounds and duration: on this kind of shared machine a whole
// round can run 20-30% slow for one target (its speed moves in phases of
// seconds), so a single round's ratio against an anchor spread over
// 0.72-1.10 (req/s) and 0.81-1.30 (p99) in a 15-round run of one cell.
// The verdict is a median of those per-round ratios, and with 5 rounds
// its own error (about 5%) was larger than the differences it judged; 9
// shorter rounds sample more phases, for about 4 minutes more (make bench
// took 865 s, now 1,090 s).
var (
	duration   = flag.Duration("d", 4*time.Second, "load duration per run")
	rounds     = flag.Int("rounds", 9, "interleaved rounds per target")
	conns      = flag.Int("c", 64, "wrk connections")
	threads    = flag.Int("t", 2, "wrk threads")
	pin        = flag.Bool("pin", true, "pin the load generator to CPU 0 and proxies and backends to CPU 1 (taskset)")
	only       = flag.String("only", "", "run only targets whose name contains this (e.g. hapair)")
	modeFlag   = flag.String("mode", "", "run only this mode (l4, http or udp)")
	connFlag   = flag.String("conn", "", "run only this connection kind (keep-alive or close)")
	flows      = flag.Int("flows", 1000, "active UDP flows (client sockets) in the udp cell")
	idleFor    = flag.Duration("idle", 30*time.Second, "how long to measure the idle daemon (0 skips it)")
	hadBin     = flag.String("had", "", "the had binary for the idle measurement (run.sh builds it)")
	serve      = flag.Bool("serve-hapair", false, "internal: run the hapair balancer (child mode)")
	serveEcho  = flag.String("serve-udp-echo", "", "internal: comma-separated UDP addresses to echo on (child mode)")
	cpuProfile = flag.String("cpuprofile", "", "internal: write the hapair child's CPU profile here")
	profileFor = flag.String("profile", "", "write hapair's CPU profile (whole run) to this file")
	memProfile = flag.String("memprofile", "", "write hapair's allocation profile (whole run) to this file")
	gogc       = flag.String("gogc", "", "GOGC for the hapair process (default: hapair's own setting)")
	samplesTo  = flag.String("samples", "", "append every round's figures to this tab-separated file, for -pool")
	poolFrom   = flag.String("pool", "", "print the tables of the rounds in these comma-separated -samples files, pooled (no load is run)")
	baseBin    = flag.String("base", "", "another build of this program (e.g. of the commit before a change) whose hapair child runs beside this one as target hapair-base, in the same interleaved rounds")
)

func main() {
	flag.Parse()
	var err error
	switch {
	case *serve:
		err = serveHapair()
	case *serveEcho != "":
		err = serveUDPEcho(strings.Split(*serveEcho, ","))
	case *poolFrom != "":
		// The other flags choose what a run measures: none applies to
		// rounds measured already.
		flag.Visit(func(f *flag.Flag) {
			if f.Name != "pool" && err == nil {
				err = fmt.Errorf("-pool takes no other flag (-%s given)", f.Name)
			}
		})
		if err == nil && flag.NArg() > 0 {
			err = fmt.Errorf("-pool takes its files comma-separated: %q after it is not read", flag.Arg(0))
		}
		if err == nil {
			err = poolRuns(os.Stdout, strings.Split(*poolFrom, ","))
		}
	default:
		if *pin && !pinned() && runtime.NumCPU() >= 2 {
			// Re-run this program on CPU 0: every Go thread, wrk and the UDP
			// load generator then stay off the proxies' core.
			err = reexecPinned()
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		// SIGTERM or ^C ends the run through its context, so the deferred
		// stops reach every process group (nginx and HAProxy workers:
		// Pdeathsig only reaches the masters this program started).
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		err = run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func reexecPinned() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("taskset", append([]string{"-c", "0", self}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "HAPAIR_BENCH_PINNED=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Pass SIGTERM and ^C on to the pinned run, which stops its children
	// then; dying first would SIGKILL it (Pdeathsig) with nginx's workers
	// left running.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case err := <-done:
			return err
		case s := <-sig:
			_ = cmd.Process.Signal(s) // by PID: the child started here
		}
	}
}

// pinned reports whether this program was re-run on CPU 0 and so runs the
// proxies pinned to CPU 1. (Inside, runtime.NumCPU is 1: it follows the
// affinity.)
func pinned() bool { return *pin && os.Getenv("HAPAIR_BENCH_PINNED") != "" }

// proxyCPUs is how many cores each proxy may use: 1 pinned, else all.
func proxyCPUs() int {
	if pinned() {
		return 1
	}
	return runtime.NumCPU()
}

// onProxyCPU prefixes a command line with taskset so it runs on CPU 1.
func onProxyCPU(args []string) []string {
	if !pinned() {
		return args
	}
	return append([]string{"taskset", "-c", "1"}, args...)
}

// proc is a started child process, stopped by PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done closes
}

func start(name string, dir string, env []string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	// Own process group, so stop reaches workers; Pdeathsig, so nothing
	// outlives this program even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group it leads (nginx and haproxy
// workers included), waits up to 5s, then SIGKILLs the group.
func (p *proc) stop() {
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

// freePort returns a currently free 127.0.0.1 port (TCP or UDP).
func freePort(network string) (string, error) {
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer pc.Close()
		return pc.LocalAddr().String(), nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// distinctPort returns a free port (as freePort) that is not in taken,
// and adds it there. freePort closes its probe socket at once, so the
// kernel may hand the same ephemeral port out again: a real then got the
// service's own listen address and the hapair child refused to start.
func distinctPort(network string, taken map[string]bool) (string, error) {
	for range 50 {
		a, err := freePort(network)
		if err != nil {
			return "", err
		}
		if !taken[a] {
			taken[a] = true
			return a, nil
		}
	}
	return "", fmt.Errorf("bench: no distinct free %s port on 127.0.0.1 in 50 tries", network)
}

// waitHTTP polls addr until it answers an HTTP request (bounded: 10s).
func waitHTTP(addr string, p *proc) error {
	return waitReady(p, "tcp "+addr, func() error {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && !strings.HasPrefix(line, "HTTP/1.1 200") {
			err = fmt.Errorf("answered %q", strings.TrimSpace(line))
		}
		return err
	})
}

// waitUDP polls addr until it echoes a datagram (bounded: 10s).
func waitUDP(addr string, p *proc) error {
	return waitReady(p, "udp "+addr, func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		_, err = c.Read(make([]byte, 64))
		return err
	})
}

// waitReady polls ready every 50ms for up to 10s (runner.WaitReady, had's
// own wait for the daemons it starts), failing early when p exits.
func waitReady(p *proc, what string, ready func() error) error {
	err := runner.WaitReady(context.Background(), p.done, 10*time.Second, 50*time.Millisecond, ready)
	switch {
	case errors.Is(err, runner.ErrExited):
		return fmt.Errorf("%s exited before answering: %v", p.name, p.err)
	case err != nil:
		return fmt.Errorf("%s: %s did not answer within 10s: %w", p.name, what, err)
	}
	return nil
}

// target is one thing put under load in one cell.
type target struct {
	name string // direct, hapair, haproxy, nginx
	mode string // l4, http, udp
	addr string
	pgid int // the proxy's process group (0 for direct), for CPU and RSS
}

// cell names one row group of the table.
type cell struct {
	mode      string
	keepAlive bool
}

func (c cell) String() string {
	if c.mode == "udp" {
		return fmt.Sprintf("udp, %d flows", *flows)
	}
	return c.mode + ", " + connLabel(c.keepAlive)
}

func connLabel(ka bool) string {
	if ka {
		return "keep-alive"
	}
	return "close"
}

func run(ctx context.Context) error {
	for _, bin := range []string{"wrk", "haproxy", "nginx"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found (run.sh installs it): %w", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "hapair-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // nginx workers run as nobody
		return err
	}
	ports := map[string]string{}
	taken := map[string]bool{}
	for _, k := range []string{"b1", "b2", "hapair-l4", "hapair-http", "hapair-base-l4", "hapair-base-http", "haproxy-l4", "haproxy-http", "nginx-l4", "nginx-http"} {
		if ports[k], err = distinctPort("tcp", taken); err != nil {
			return err
		}
	}
	for _, k := range []string{"u1", "u2", "hapair-udp", "hapair-base-udp", "nginx-udp"} {
		if ports[k], err = distinctPort("udp", taken); err != nil {
			return err
		}
	}
	var procs []*proc
	pgids := map[string]int{} // process group of each started program, by short name
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}()
	launch := func(name string, env []string, readyAddr string, args ...string) (*proc, error) {
		p, err := start(name, dir, env, onProxyCPU(args)...)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
		pgids[strings.TrimSuffix(name, "-proxy")] = p.cmd.Process.Pid
		if err := waitHTTP(readyAddr, p); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			return nil, fmt.Errorf("%w\n%s", err, log)
		}
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	backendConf := filepath.Join(dir, "backend.conf")
	if err := os.WriteFile(backendConf, []byte(nginxBackendConf(dir, ports["b1"], ports["b2"])), 0o644); err != nil {
		return err
	}
	bp, err := launch("backend", nil, ports["b1"], "nginx", "-c", backendConf, "-p", dir, "-g", "daemon off;")
	if err != nil {
		return err
	}
	if err := waitHTTP(ports["b2"], bp); err != nil {
		return err
	}
	ep, err := start("udp-echo", dir, nil, onProxyCPU([]string{self, "-serve-udp-echo", ports["u1"] + "," + ports["u2"]})...)
	if err != nil {
		return err
	}
	procs = append(procs, ep)
	if err := waitUDP(ports["u1"], ep); err != nil {
		return err
	}

	var henv []string
	if *gogc != "" {
		henv = append(henv, "GOGC="+*gogc)
	}
	hapairs := []string{"hapair"}
	if *baseBin != "" {
		hapairs = append(hapairs, "hapair-base")
	}
	for _, name := range hapairs {
		bin := self
		if name == "hapair-base" {
			bin = *baseBin
		}
		hargs := []string{bin, "-serve-hapair", "-l4", ports[name+"-l4"], "-http", ports[name+"-http"], "-udp", ports[name+"-udp"],
			"-reals", ports["b1"] + "," + ports["b2"], "-udp-reals", ports["u1"] + "," + ports["u2"]}
		if *profileFor != "" && name == "hapair" {
			hargs = append(hargs, "-cpuprofile", *profileFor)
		}
		if *memProfile != "" && name == "hapair" {
			hargs = append(hargs, "-memprofile", *memProfile)
		}
		hp, err := launch(name, henv, ports[name+"-http"], hargs...)
		if err != nil {
			return err
		}
		if err := waitUDP(ports[name+"-udp"], hp); err != nil {
			return err
		}
	}
	haCfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(haCfg, []byte(benchconf.HAProxy(proxyCPUs(), ports["haproxy-l4"], ports["haproxy-http"], ports["b1"], ports["b2"])), 0o644); err != nil {
		return err
	}
	if _, err := launch("haproxy", nil, ports["haproxy-http"], "haproxy", "-f", haCfg, "-db"); err != nil {
		return err
	}
	ngCfg := filepath.Join(dir, "nginx-proxy.conf")
	ngConf := nginxProxyConf(dir, ports["nginx-l4"], ports["nginx-http"], ports["nginx-udp"], ports["b1"], ports["b2"], ports["u1"], ports["u2"])
	if err := os.WriteFile(ngCfg, []byte(ngConf), 0o644); err != nil {
		return err
	}
	np, err := launch("nginx-proxy", nil, ports["nginx-http"], "nginx", "-c", ngCfg, "-p", dir, "-g", "daemon off;")
	if err != nil {
		return err
	}
	if err := waitUDP(ports["nginx-udp"], np); err != nil {
		return err
	}

	var cells []cell
	for _, ka := range []bool{true, false} {
		for _, mode := range []string{"l4", "http"} {
			if (*connFlag == "" || *connFlag == connLabel(ka)) && (*modeFlag == "" || *modeFlag == mode) {
				cells = append(cells, cell{mode, ka})
			}
		}
	}
	if (*modeFlag == "" || *modeFlag == "udp") && *connFlag == "" {
		cells = append(cells, cell{"udp", true})
	}
	targetsOf := func(c cell) []target {
		var ts []target
		if c.mode != "udp" {
			ts = append(ts, target{"direct", c.mode, ports["b1"], 0})
		} else {
			ts = append(ts, target{"direct", c.mode, ports["u1"], 0})
		}
		for _, n := range append(hapairs, "haproxy", "nginx") {
			if c.mode == "udp" && n == "haproxy" {
				continue // HAProxy (community) does not proxy UDP
			}
			if *only != "" && !strings.Contains(n, *only) {
				continue
			}
			ts = append(ts, target{n, c.mode, ports[n+"-"+c.mode], pgids[n]})
		}
		return ts
	}
	fmt.Fprintf(os.Stderr, "load before the runs: %s\n", loadAvg())
	sw, err := openSamples(*samplesTo, time.Now(), runSettings())
	if err != nil {
		return err
	}
	defer sw.close()
	res := map[cell]map[string][]sample{}
	for round := range *rounds {
		for _, c := range cells {
			ts := targetsOf(c)
			// Rotate the order each round, so no target always runs right
			// after the same neighbour.
			for i := range ts {
				tg := ts[(i+round)%len(ts)]
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s, err := measure(ctx, tg, c, pgids["backend"])
				if err != nil {
					return err
				}
				if res[c] == nil {
					res[c] = map[string][]sample{}
				}
				res[c][tg.name] = append(res[c][tg.name], s)
				if err := sw.write(round+1, c, tg.name, s); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "round %d  %-16s %-7s %9.0f /s  p50 %-9v p99 %-9v proxy cpu %5.1f%% %6.1fµs/req rss %s\n",
					round+1, c, tg.name, s.rate, s.p50, s.p99, s.cpuPct(), s.cpuPerOp(), mib(s.rss))
			}
		}
	}
	fmt.Fprintf(os.Stderr, "load after the runs: %s\n", loadAvg())
	printTable(os.Stdout, runHeader(), cells, res)

	if *idleFor > 0 && *modeFlag == "" && *only == "" {
		if err := idleDaemon(ctx, dir, ports["b1"], ports["b2"]); err != nil {
			fmt.Fprintf(os.Stdout, "\nidle daemon: not measured: %v\n", err)
		}
	}
	return nil
}

// measure puts tg under load once and reads the proxy's CPU and RSS.
func measure(ctx context.Context, tg target, c cell, backendPG int) (sample, error) {
	p0, b0 := groupCPU(tg.pgid), groupCPU(backendPG)
	rssDone := make(chan int64)
	stopRSS := make(chan struct{})
	go func() { rssDone <- peakRSS(tg.pgid, stopRSS) }()
	t0 := time.Now()
	var s sample
	var err error
	if c.mode == "udp" {
		s, err = runUDPLoad(ctx, tg.addr, *flows, *duration)
	} else {
		s, err = runWrk(ctx, tg, c.keepAlive)
	}
	wall := time.Since(t0)
	close(stopRSS)
	s.rss = <-rssDone
	if err != nil {
		return s, err
	}
	s.wall = wall
	if tg.pgid != 0 {
		s.proxyCPU = groupCPU(tg.pgid) - p0
	}
	s.backendCPU = groupCPU(backendPG) - b0
	return s, nil
}

// loadAvg returns /proc/loadavg's three load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) string {
	if b <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB"
}
