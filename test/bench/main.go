// Command bench measures the embedded balancer (package proxy) side by side
// with HAProxy and nginx on loopback, as DESIGN.md's "Numbers to reach"
// asks: the same two backends (one nginx process serving a fixed body on
// two ports), the same load (wrk, fixed threads, connections and
// duration), L4 and HTTP mode, with keep-alive and with a new connection
// per request, plus direct-to-backend as the reference. It prints
// requests/s, p50 and p99 latency, and the ratios hapair/HAProxy and
// hapair/nginx.
//
// It owns only its temp directory and the processes it starts (stopped by
// PID); it listens and connects on 127.0.0.1 only. Run it through run.sh
// (`make bench`), which installs haproxy, nginx and wrk when missing.
//
// The hapair side runs as a child process of this same binary
// (-serve-hapair), so each proxy is a separate process with the same cores.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

var (
	duration   = flag.Duration("d", 5*time.Second, "wrk duration per run")
	conns      = flag.Int("c", 50, "wrk connections")
	threads    = flag.Int("t", 2, "wrk threads")
	only       = flag.String("only", "", "run only targets whose name contains this (e.g. hapair)")
	modeFlag   = flag.String("mode", "", "run only this mode (l4 or http)")
	connFlag   = flag.String("conn", "", "run only this connection kind (keep-alive or close)")
	serve      = flag.Bool("serve-hapair", false, "internal: run the hapair balancer (child mode)")
	l4Listen   = flag.String("l4", "", "internal: hapair L4 listen address")
	httpListen = flag.String("http", "", "internal: hapair HTTP listen address")
	realsFlag  = flag.String("reals", "", "internal: comma-separated real addresses")
	cpuProfile = flag.String("cpuprofile", "", "internal: write the hapair child's CPU profile here")
	profileFor = flag.String("profile", "", "write hapair's CPU profile (whole run) to this file")
	memProfile = flag.String("memprofile", "", "write hapair's allocation profile (whole run) to this file")
	gogc       = flag.String("gogc", "", "GOGC for the hapair process (default: the Go runtime's, 100)")
)

func main() {
	flag.Parse()
	if *serve {
		if err := serveHapair(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: hapair:", err)
			os.Exit(1)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// proc is a started child process, stopped by PID.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done closes
}

func start(name string, dir string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if name == "hapair" && *gogc != "" {
		cmd.Env = append(os.Environ(), "GOGC="+*gogc)
	}
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

// freePort returns a currently free 127.0.0.1 port.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHTTP polls addr until it answers an HTTP request (bounded: 10s).
func waitHTTP(addr string, p *proc) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before answering: %v", p.name, p.err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && strings.HasPrefix(line, "HTTP/1.1 200") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: %s did not answer within 10s", p.name, addr)
}

type target struct {
	name string // direct, hapair, haproxy, nginx
	mode string // l4, http
	addr string
	pgid int // the proxy's process group (0 for direct), for CPU accounting
}

type result struct {
	target
	keepAlive      bool
	rps            float64
	p50, p99       time.Duration
	errors, non2xx int
	// CPU time used during the run, per request: by the proxy, by the
	// backends and by wrk.
	proxyCPU, backendCPU, wrkCPU time.Duration
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
	for _, k := range []string{"b1", "b2", "hapair-l4", "hapair-http", "haproxy-l4", "haproxy-http", "nginx-l4", "nginx-http"} {
		if ports[k], err = freePort(); err != nil {
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
	launch := func(name string, readyAddr string, args ...string) error {
		p, err := start(name, dir, args...)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		pgids[strings.TrimSuffix(name, "-proxy")] = p.cmd.Process.Pid
		if err := waitHTTP(readyAddr, p); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			return fmt.Errorf("%w\n%s", err, log)
		}
		return nil
	}

	backendConf := filepath.Join(dir, "backend.conf")
	if err := os.WriteFile(backendConf, []byte(nginxBackendConf(dir, ports["b1"], ports["b2"])), 0o644); err != nil {
		return err
	}
	if err := launch("backend", ports["b1"], "nginx", "-c", backendConf, "-p", dir, "-g", "daemon off;"); err != nil {
		return err
	}
	if err := waitHTTP(ports["b2"], procs[0]); err != nil {
		return err
	}
	reals := ports["b1"] + "," + ports["b2"]

	self, err := os.Executable()
	if err != nil {
		return err
	}
	hargs := []string{self, "-serve-hapair", "-l4", ports["hapair-l4"], "-http", ports["hapair-http"], "-reals", reals}
	if *profileFor != "" {
		hargs = append(hargs, "-cpuprofile", *profileFor)
	}
	if *memProfile != "" {
		hargs = append(hargs, "-memprofile", *memProfile)
	}
	if err := launch("hapair", ports["hapair-http"], hargs...); err != nil {
		return err
	}
	haCfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(haCfg, []byte(haproxyConf(ports["haproxy-l4"], ports["haproxy-http"], ports["b1"], ports["b2"])), 0o644); err != nil {
		return err
	}
	if err := launch("haproxy", ports["haproxy-http"], "haproxy", "-f", haCfg, "-db"); err != nil {
		return err
	}
	ngCfg := filepath.Join(dir, "nginx-proxy.conf")
	if err := os.WriteFile(ngCfg, []byte(nginxProxyConf(dir, ports["nginx-l4"], ports["nginx-http"], ports["b1"], ports["b2"])), 0o644); err != nil {
		return err
	}
	if err := launch("nginx-proxy", ports["nginx-http"], "nginx", "-c", ngCfg, "-p", dir, "-g", "daemon off;"); err != nil {
		return err
	}

	var results []result
	for _, ka := range []bool{true, false} {
		if *connFlag != "" && *connFlag != connLabel(ka) {
			continue
		}
		for _, mode := range []string{"l4", "http"} {
			if *modeFlag != "" && *modeFlag != mode {
				continue
			}
			targets := []target{{"direct", mode, ports["b1"], 0}}
			for _, n := range []string{"hapair", "haproxy", "nginx"} {
				targets = append(targets, target{n, mode, ports[n+"-"+mode], pgids[n]})
			}
			for _, tg := range targets {
				if *only != "" && tg.name != "direct" && !strings.Contains(tg.name, *only) {
					continue
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p0, b0 := groupCPU(tg.pgid), groupCPU(pgids["backend"])
				r, err := runWrk(ctx, tg, ka)
				if err != nil {
					return err
				}
				if n := r.rps * duration.Seconds(); n > 0 {
					if tg.pgid != 0 {
						r.proxyCPU = time.Duration(float64(groupCPU(tg.pgid)-p0) / n)
					}
					r.backendCPU = time.Duration(float64(groupCPU(pgids["backend"])-b0) / n)
					r.wrkCPU = time.Duration(float64(r.wrkCPU) / n)
				}
				fmt.Fprintf(os.Stderr, "%-7s %-4s %-10s %10.0f req/s  p50 %-9v p99 %-9v cpu/req proxy %v backend %v wrk %v\n", tg.name, mode, connLabel(ka), r.rps, r.p50, r.p99, r.proxyCPU, r.backendCPU, r.wrkCPU)
				results = append(results, r)
			}
		}
	}
	printTable(os.Stdout, results)
	return nil
}

func connLabel(ka bool) string {
	if ka {
		return "keep-alive"
	}
	return "close"
}

var (
	reqsRe    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	latRe     = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	sockErrRe = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	non2xxRe  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func runWrk(ctx context.Context, tg target, keepAlive bool) (result, error) {
	args := []string{"-t", strconv.Itoa(*threads), "-c", strconv.Itoa(*conns), "-d", duration.String(), "--latency"}
	if !keepAlive {
		args = append(args, "-H", "Connection: close")
	}
	args = append(args, "http://"+tg.addr+"/")
	wctx, cancel := context.WithTimeout(ctx, *duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(wctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s %s: %w\n%s", tg.name, tg.mode, err, out)
	}
	r, err := parseWrk(tg, keepAlive, string(out))
	r.wrkCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() // total; run divides
	return r, err
}

func parseWrk(tg target, keepAlive bool, out string) (result, error) {
	r := result{target: tg, keepAlive: keepAlive}
	m := reqsRe.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output for %s %s has no Requests/sec:\n%s", tg.name, tg.mode, out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, lm := range latRe.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(lm[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[lm[3]]
		d := time.Duration(v * float64(unit)).Round(time.Microsecond)
		if lm[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := sockErrRe.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.errors += n
		}
	}
	if m := non2xxRe.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	return r, nil
}

func printTable(w io.Writer, rs []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nwrk -t%d -c%d -d%v, loopback, backends: nginx (2 ports, %[4]d workers); %[4]d cores: hapair GOMAXPROCS=%[5]d, HAProxy nbthread %[4]d, nginx worker_processes %[4]d\n",
		*threads, *conns, *duration, runtime.NumCPU(), hapairProcs())
	fmt.Fprintln(tw, "mode\tconnection\ttarget\treq/s\tp50\tp99\tvs direct\terrors\tCPU µs/req: proxy\tbackends\twrk\t")
	find := func(name, mode string, ka bool) *result {
		for i := range rs {
			if rs[i].name == name && rs[i].mode == mode && rs[i].keepAlive == ka {
				return &rs[i]
			}
		}
		return nil
	}
	for _, r := range rs {
		vs := ""
		if d := find("direct", r.mode, r.keepAlive); d != nil && d.rps > 0 {
			vs = fmt.Sprintf("%.2f", r.rps/d.rps)
		}
		us := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)) }
		pcpu := "-"
		if r.name != "direct" {
			pcpu = us(r.proxyCPU)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%v\t%v\t%s\t%d\t%s\t%s\t%s\t\n", r.mode, connLabel(r.keepAlive), r.name, r.rps, r.p50, r.p99, vs, r.errors+r.non2xx, pcpu, us(r.backendCPU), us(r.wrkCPU))
	}
	fmt.Fprintln(tw, "\nmode\tconnection\thapair/HAProxy req/s\thapair/nginx req/s\thapair/HAProxy p99\thapair/nginx p99\t")
	for _, ka := range []bool{true, false} {
		for _, mode := range []string{"l4", "http"} {
			h := find("hapair", mode, ka)
			if h == nil {
				continue
			}
			ratio := func(o *result, f func(*result) float64) string {
				if o == nil || f(o) == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f", f(h)/f(o))
			}
			rps := func(r *result) float64 { return r.rps }
			p99 := func(r *result) float64 { return float64(r.p99) }
			ha, ng := find("haproxy", mode, ka), find("nginx", mode, ka)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", mode, connLabel(ka), ratio(ha, rps), ratio(ng, rps), ratio(ha, p99), ratio(ng, p99))
		}
	}
	tw.Flush()
}

// hapairProcs is the GOMAXPROCS the hapair child runs with: it inherits
// this program's environment.
func hapairProcs() int {
	if n, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}
