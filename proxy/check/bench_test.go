package check

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// listenerEnv makes the test binary a plain accept-and-close TCP server on
// loopback, so benchmarks measure the checker's CPU without the server's.
const listenerEnv = "HAPAIR_CHECK_BENCH_LISTENER"

func TestMain(m *testing.M) {
	if os.Getenv(listenerEnv) == "1" {
		serveUntilStdinCloses()
		return
	}
	os.Exit(m.Run())
}

func serveUntilStdinCloses() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	io.Copy(io.Discard, os.Stdin) // the parent closes stdin (or dies) to stop us
}

// startListenerProcess runs the helper server and returns its address; it is
// stopped by closing its stdin and, failing that, killed by PID.
func startListenerProcess(tb testing.TB) netip.AddrPort {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), listenerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // by PID
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("listener helper: %v", err)
	}
	ap, err := netip.ParseAddrPort(line[:len(line)-1])
	if err != nil {
		tb.Fatalf("listener helper said %q: %v", line, err)
	}
	return ap
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConnectCheck measures one connect check against a loopback
// listener in another process: time, allocations, and this process's CPU.
func BenchmarkConnectCheck(b *testing.B) {
	target := startListenerProcess(b)
	c := &ConnectChecker{Timeout: time.Second}
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		if err := c.Check(ctx, target); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/check")
}

// BenchmarkProber1000Connect runs 1,000 connect jobs at a 1s interval
// against a loopback listener in another process for one second per
// iteration, and reports this process's CPU use as a percentage of one core
// (DESIGN.md: "1,000 reals checked every second: under 10% of one core").
func BenchmarkProber1000Connect(b *testing.B) {
	target := startListenerProcess(b)
	c := &ConnectChecker{Timeout: time.Second}
	p := NewProber(ProberConfig{})
	defer p.Stop()
	for i := range 1000 {
		if err := p.Add(Job{ID: fmt.Sprint(i), Target: target, Checker: c, Spec: Spec{Interval: time.Second, Rise: 1, Fall: 1}}); err != nil {
			b.Fatal(err)
		}
	}
	count := func() (checks uint64, healthy int) {
		for i := range 1000 {
			st, _ := p.Status(fmt.Sprint(i))
			checks += st.Checks
			if st.Healthy {
				healthy++
			}
		}
		return checks, healthy
	}
	time.Sleep(time.Second) // let every job reach its steady phase (measurement warm-up, not a wait for a condition)
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	checks0, _ := count()
	for b.Loop() {
		time.Sleep(time.Second) // the workload is time-driven: one interval per iteration
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	checks1, healthy := count()
	if healthy != 1000 {
		for i := range 1000 {
			if st, _ := p.Status(fmt.Sprint(i)); !st.Healthy {
				b.Log(i, st.Reason)
			}
		}
		b.Errorf("%d of 1000 jobs healthy, want all", healthy)
	}
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
	b.ReportMetric(float64(checks1-checks0)/wall.Seconds(), "checks/s")
}
