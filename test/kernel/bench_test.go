package kernel

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/test/bench/benchconf"
	"github.com/hapair/hapair/test/lab"
	"github.com/ti-mo/conntrack"
)

// TestBenchNAT is the kernel nat bench, not a CI test: it runs only with
// HAPAIR_KBENCH=1 (make bench). Lab topology: wrk in the client namespace,
// the balancers in lb1 (hapair's nat in the kernel on the VIP, HAProxy in
// tcp mode and nginx stream on lb1's own address), nginx backends in
// backend1 and backend2; "direct" is wrk straight to the same two
// backends, one wrk process each (every target gets two wrk processes of
// one thread and 25 connections). Each target is measured with keep-alive
// and with a new connection per request, first saturated (as many
// requests as the path carries), then at a fixed offered load: each
// connection waits a think time before its next request, the same for
// every target, so p50/p99 there are what the path adds, not the queue
// at whatever saturates first on a 2-core machine.
// The machine is shared, so figures are noisy: each row is the median of
// HAPAIR_KBENCH_ROUNDS (default 3) interleaved rounds, and ratios within
// one run are what to read. CPU per 10k requests is lb1's processes'
// (HAProxy's, nginx's; nat forwards in softirq, in no process) and the
// machine's softirq time, which other work on the machine inflates.
func TestBenchNAT(t *testing.T) {
	if os.Getenv("HAPAIR_KBENCH") != "1" {
		t.Skip("the kernel nat bench runs only with HAPAIR_KBENCH=1 (make bench)")
	}
	for _, bin := range []string{"wrk", "haproxy", "nginx"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found (test/bench/run.sh installs it)", bin)
		}
	}
	lb1, client, targets := startBench(t)
	script := lb1Write(t, t.TempDir(), "bench.lua", wrkLua)
	d := 5 * time.Second
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("HAPAIR_KBENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	// The think times bound the offered load at 50 connections / think:
	// 25,000 req/s with keep-alive, 5,000 new connections/s, under half
	// of every target's saturated rate here (HAProxy's: about 50,000 and
	// 9,000), so every target carries it; the req/s column shows it did.
	modes := []struct {
		name  string
		close bool
		think time.Duration
	}{
		{"keep-alive", false, 0},
		{"new per request", true, 0},
		{"keep-alive, 2ms think", false, 2 * time.Millisecond},
		{"new per request, 10ms think", true, 10 * time.Millisecond},
	}
	// Rounds interleave the targets, so a burst of load from elsewhere on
	// the machine hits each of them alike; each row is the target's
	// median round: by req/s saturated, by p99 at a fixed load.
	runs := map[string][]wrkResult{} // by mode + target
	for round := range rounds {
		for _, mode := range modes {
			for _, tg := range targets {
				// Every run starts with lb1's conntrack table empty: the
				// kernel tracks HAProxy's and nginx's connections in lb1
				// as well as nat's, and the TIME-WAIT entries (120 s) of
				// the runs before would fill it (262,144 entries here)
				// and drop the next run's SYNs.
				left := flushConntrack(t, lb1)
				load := wrkLoad{script: script, urls: tg.urls, conns: 25, d: d, think: mode.think, close: mode.close}
				cpu0, irq0 := nsCPU(t, lb1.Netns), softirqCPU(t)
				r, err := load.run(client)
				if err != nil {
					t.Fatalf("%s, %s: %v", tg.name, mode.name, err)
				}
				r.cpu, r.softirq, r.d = nsCPU(t, lb1.Netns)-cpu0, softirqCPU(t)-irq0, d
				runs[mode.name+tg.name] = append(runs[mode.name+tg.name], r)
				t.Logf("round %d, %s, %s: %.0f req/s, p50 %s, p99 %s, %d errors (lb1 conntrack entries flushed before: %d)",
					round+1, mode.name, tg.name, r.rps, lat(r.p50), lat(r.p99), r.errors, left)
			}
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nkernel nat bench: 2 wrk processes × 1 thread × 25 connections, -d%v, from the client namespace; median of %d interleaved rounds; lab namespaces on a shared 2-core machine (noisy)\n", d, rounds)
	fmt.Fprintln(tw, "connection\ttarget\treq/s\tp50\tp99\tvs direct\tvs HAProxy\terrors\tlb1 CPU/10k req\tsoftirq/10k req (machine)\tbalancer CPU/10k req\t")
	for _, mode := range modes {
		key := func(r wrkResult) float64 { return r.rps }
		if mode.think > 0 {
			key = func(r wrkResult) float64 { return float64(r.p99) }
		}
		med := map[string]wrkResult{}
		for _, tg := range targets {
			med[tg.name] = median(runs[mode.name+tg.name], key)
		}
		direct := med["direct"]
		for _, tg := range targets {
			r := med[tg.name]
			ratio := func(base string) string {
				if med[base].rps == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f", r.rps/med[base].rps)
			}
			// The balancer's share: its processes, and the softirq time
			// above what the direct path takes per request.
			bal := "-"
			if tg.name != "direct" && direct.rps > 0 && r.rps > 0 {
				extra := time.Duration(float64(r.softirq)/(r.rps*r.d.Seconds())*1e4 - float64(direct.softirq)/(direct.rps*direct.d.Seconds())*1e4)
				bal = (time.Duration(float64(r.cpu)/(r.rps*r.d.Seconds())*1e4) + extra).Round(time.Millisecond).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n", mode.name, tg.name, r.rps, lat(r.p50), lat(r.p99),
				ratio("direct"), ratio("HAProxy tcp"), r.errors, r.per10k(r.cpu), r.per10k(r.softirq), bal)
		}
	}
	tw.Flush()
	fmt.Println("lb1 CPU: user+system time of every process in lb1's namespace (HAProxy, nginx; nat has none: the kernel forwards in softirq).")
	fmt.Println("softirq: the whole machine's, other helpers' traffic included; compare nat with direct, not across runs.")
	fmt.Println("balancer CPU: lb1 CPU plus the softirq above direct's, per 10k requests (what the balancer adds to the path).")
}

// benchTarget is one system of the kernel bench and its URL.
type benchTarget struct {
	name string
	urls []string // one per wrk process
}

// startBench builds the bench lab (nat lab, nginx backends, HAProxy and
// nginx stream on lb1, the nat service on the VIP), waits until every
// target answers, and returns lb1, the client and the targets.
func startBench(t *testing.T) (lb1, client *lab.Host, targets []benchTarget) {
	t.Helper()
	s := newNAT(t)
	lb1 = s.l.Host("lb1")
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // nginx workers run as nobody
	for i, h := range s.l.Backends()[:2] {
		conf := lb1Write(t, dir, fmt.Sprintf("backend%d.conf", i+1), fmt.Sprintf(`worker_processes 1;
pid %[1]s/b%[2]d.pid;
error_log %[1]s/b%[2]d.err warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path %[1]s/b%[2]d-tmp;
  proxy_temp_path %[1]s/b%[2]d-tmp;
  fastcgi_temp_path %[1]s/b%[2]d-tmp;
  uwsgi_temp_path %[1]s/b%[2]d-tmp;
  scgi_temp_path %[1]s/b%[2]d-tmp;
  server { listen 0.0.0.0:8081; listen 0.0.0.0:8082; location / { return 200 "hello from %[3]s\n"; } }
}
`, dir, i+1, h.Name))
		h.Start([]string{"nginx", "-c", conf, "-p", dir, "-g", "daemon off;"})
	}
	b1, b2 := s.l.Backends()[0].Addr, s.l.Backends()[1].Addr
	hacfg := lb1Write(t, dir, "haproxy.cfg", benchconf.HAProxy(2, fmt.Sprintf("%s:8001", lb1.Addr), "",
		fmt.Sprintf("%s:8081", b1), fmt.Sprintf("%s:8081", b2)))
	lb1.Start([]string{"haproxy", "-f", hacfg, "-db"})
	ngcfg := lb1Write(t, dir, "nginx-stream.conf", fmt.Sprintf(`load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 2;
pid %[1]s/ng.pid;
error_log %[1]s/ng.err warn;
events { worker_connections 16384; }
stream {
  upstream l4b { server %[3]s:8081; server %[4]s:8081; }
  server { listen %[2]s:8002; proxy_pass l4b; proxy_connect_timeout 5s; }
}
`, dir, lb1.Addr, b1, b2))
	lb1.Start([]string{"nginx", "-c", ngcfg, "-p", dir, "-g", "daemon off;"})
	svc := nft.Service{Name: "bench", Method: nft.MethodNAT, Protocol: "tcp", VIP: netip.MustParseAddrPort(vip + ":80"), Scheduler: "rr",
		Reals: []nft.Real{{Addr: netip.AddrPortFrom(b1, 8081), Weight: 1}, {Addr: netip.AddrPortFrom(b2, 8081), Weight: 1}}}
	s.b.apply(svc)

	targets = []benchTarget{
		// Port 8082: nat keeps the client's address and port, so on 8081
		// a direct connection would meet the TIME-WAIT a nat one left on
		// the backend (same four-tuple) and stall for a SYN retry.
		{"direct", []string{fmt.Sprintf("http://%s:8082/", b1), fmt.Sprintf("http://%s:8082/", b2)}},
		{"HAProxy tcp", twice(fmt.Sprintf("http://%s:8001/", lb1.Addr))},
		{"nginx stream", twice(fmt.Sprintf("http://%s:8002/", lb1.Addr))},
		{"hapair nat", twice("http://" + vip + ":80/")},
	}
	client = s.l.Client()
	for _, tg := range targets {
		for _, u := range tg.urls {
			lab.Eventually(t, 10*time.Second, tg.name+" answers", func() error {
				out, err := client.RunFor(3*time.Second, "wrk", "-t1", "-c1", "-d1s", u)
				if err != nil || !strings.Contains(string(out), "Requests/sec") || strings.Contains(string(out), "Socket errors") {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			})
		}
	}
	return lb1, client, targets
}

func lb1Write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// twice is u for each of the two wrk processes.
func twice(u string) []string { return []string{u, u} }

// flushConntrack empties lb1's conntrack table and returns how many
// entries it held.
func flushConntrack(t *testing.T, lb1 *lab.Host) int {
	t.Helper()
	n := -1
	err := inNetns(lb1.Netns, func() error {
		b, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_count") // this thread's namespace
		if err != nil {
			return err
		}
		if n, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return err
		}
		c, err := conntrack.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Flush()
	})
	if err != nil {
		t.Fatalf("flushing lb1's conntrack table: %v", err)
	}
	return n
}
