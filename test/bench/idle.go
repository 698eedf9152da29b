package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/runner"
)

// idleConf is DESIGN.md's idle setting: one group, two reals checked every
// 2 s, keepalive 200 ms. The peer (lb2 on 127.0.0.2) is not started: both
// nodes on one host would bind the same service address.
const idleConf = `[cluster]
name = "bench"
id = 9
nodes = ["lb1", "lb2"]
authkeys = "%[1]s/authkeys"
keepalive = "200ms"
warntime = "600ms"
deadtime = "1s"
initdead = "1s"
state_dir = "%[1]s/state"
socket = "%[1]s/had.sock"

[[link]]
kind = "ucast"
port = %[2]s
peers = { lb1 = "127.0.0.1", lb2 = "127.0.0.2" }

[[group]]
name = "web"
preferred = "lb1"
resources = [ { kind = "balancer", services = ["http"] } ]

[[service]]
name = "http"
listen = "%[3]s"
mode = "http"
scheduler = "rr"
check = { type = "connect", interval = "2s", timeout = "1s" }
reals = [ { address = "%[4]s" }, { address = "%[5]s" } ]
`

// idleDaemon runs had (-had) as the owner of one group with the settings
// above and prints its CPU use over -idle, once it is master.
func idleDaemon(ctx context.Context, dir, b1, b2 string) error {
	if *hadBin == "" {
		return fmt.Errorf("no had binary given (-had)")
	}
	d := filepath.Join(dir, "idle")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "authkeys"), []byte("auth 1\n1 sha256 bench-secret-not-for-production\n"), 0o600); err != nil {
		return err
	}
	hb, err := freePort("udp")
	if err != nil {
		return err
	}
	listen, err := freePort("tcp")
	if err != nil {
		return err
	}
	conf := fmt.Sprintf(idleConf, d, hb[strings.LastIndexByte(hb, ':')+1:], listen, b1, b2)
	cfgPath := filepath.Join(d, "had.toml")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		return err
	}
	p, err := start("had-idle", dir, nil, onProxyCPU([]string{*hadBin, "-c", cfgPath, "--node", "lb1"})...)
	if err != nil {
		return err
	}
	defer p.stop()
	hadLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "had-idle.log"))
		return string(b)
	}
	err = runner.WaitReady(ctx, p.done, 15*time.Second, 100*time.Millisecond, func() error {
		if !strings.Contains(hadLog(), "group master") {
			return errors.New("not master yet")
		}
		return nil
	})
	switch {
	case errors.Is(err, runner.ErrExited):
		return fmt.Errorf("had exited: %v\n%s", p.err, hadLog())
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("had did not become master within 15s:\n%s", hadLog())
	}
	// Let the first checks and the start-up allocations settle: one check
	// interval.
	time.Sleep(2 * time.Second)
	pid := p.cmd.Process.Pid
	c0, t0 := groupCPU(pid), time.Now()
	stop := make(chan struct{})
	rssc := make(chan int64)
	go func() { rssc <- peakRSS(pid, stop) }()
	select {
	case <-time.After(*idleFor):
	case <-p.done:
		close(stop)
		<-rssc
		return fmt.Errorf("had exited during the measurement: %v", p.err)
	case <-ctx.Done():
		close(stop)
		<-rssc
		return ctx.Err()
	}
	cpu, wall := groupCPU(pid)-c0, time.Since(t0)
	close(stop)
	rss := <-rssc
	pct := 100 * cpu.Seconds() / wall.Seconds()
	verdict := "met"
	if pct >= 1 || rss >= 40<<20 {
		verdict = "NOT met"
	}
	fmt.Printf("\nidle daemon (one group, two reals connect-checked every 2s, keepalive 200ms, %v; CPU from /proc in 10 ms ticks): %.2f%% of a core, peak RSS %s; target under 1%% and 40 MiB: %s; load average: %s\n",
		wall.Round(time.Second), pct, mib(rss), verdict, loadAvg())
	return nil
}
