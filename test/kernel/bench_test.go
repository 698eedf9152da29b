package kernel

import (
	"cmp"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/hapair/hapair/test/bench/benchconf"
	"github.com/hapair/hapair/test/lab"
)

// TestBenchNAT is the kernel nat bench, not a CI test: it runs only with
// HAPAIR_KBENCH=1 (make bench). Lab topology: wrk in the client namespace,
// the balancers in lb1 (hapair's nat in the kernel on the VIP, HAProxy in
// tcp mode and nginx stream on lb1's own address), nginx backends in
// backend1 and backend2; "direct" is wrk straight to backend1. Each target
// is measured with keep-alive and with a new connection per request.
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
	s := newNAT(t)
	lb1 := s.l.Host("lb1")
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

	targets := []struct{ name, url string }{
		// Port 8082: nat keeps the client's address and port, so on 8081
		// a direct connection would meet the TIME-WAIT a nat one left on
		// the backend (same four-tuple) and stall for a SYN retry.
		{"direct", fmt.Sprintf("http://%s:8082/", b1)},
		{"HAProxy tcp", fmt.Sprintf("http://%s:8001/", lb1.Addr)},
		{"nginx stream", fmt.Sprintf("http://%s:8002/", lb1.Addr)},
		{"hapair nat", "http://" + vip + ":80/"},
	}
	client := s.l.Client()
	for _, tg := range targets {
		lab.Eventually(t, 10*time.Second, tg.name+" answers", func() error {
			out, err := client.RunFor(3*time.Second, "wrk", "-t1", "-c1", "-d1s", tg.url)
			if err != nil || !strings.Contains(string(out), "Requests/sec") || strings.Contains(string(out), "Socket errors") {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
	d := 5 * time.Second
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("HAPAIR_KBENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	// Rounds interleave the targets, so a burst of load from elsewhere on
	// the machine hits each of them alike; each row is the target's
	// median round by req/s.
	modes := []string{"keep-alive", "new per request"}
	runs := map[string][]wrkResult{} // by mode + target
	for range rounds {
		for _, mode := range modes {
			for _, tg := range targets {
				args := []string{"wrk", "-t2", "-c50", "-d" + d.String(), "--latency"}
				if mode != "keep-alive" {
					args = append(args, "-H", "Connection: close")
				}
				cpu0, irq0 := nsCPU(t, lb1.Netns), softirqCPU(t)
				out, err := client.RunFor(d+30*time.Second, append(args, tg.url)...)
				if err != nil {
					t.Fatalf("wrk %s: %v\n%s", tg.name, err, out)
				}
				r := parseWrk(string(out))
				r.cpu, r.softirq, r.d = nsCPU(t, lb1.Netns)-cpu0, softirqCPU(t)-irq0, d
				runs[mode+tg.name] = append(runs[mode+tg.name], r)
			}
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nkernel nat bench: wrk -t2 -c50 -d%v from the client namespace, median of %d interleaved rounds; lab namespaces on a shared 2-core machine (noisy)\n", d, rounds)
	fmt.Fprintln(tw, "connection\ttarget\treq/s\tp50\tp99\tvs direct\tvs HAProxy\terrors\tlb1 CPU/10k req\tsoftirq/10k req (machine)\t")
	for _, mode := range modes {
		med := map[string]wrkResult{}
		for _, tg := range targets {
			med[tg.name] = median(runs[mode+tg.name])
		}
		for _, tg := range targets {
			r := med[tg.name]
			ratio := func(base string) string {
				if med[base].rps == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f", r.rps/med[base].rps)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", mode, tg.name, r.rps, r.p50, r.p99,
				ratio("direct"), ratio("HAProxy tcp"), r.errors, r.per10k(r.cpu), r.per10k(r.softirq))
		}
	}
	tw.Flush()
	fmt.Println("lb1 CPU: user+system time of every process in lb1's namespace (HAProxy, nginx; nat has none: the kernel forwards in softirq).")
	fmt.Println("softirq: the whole machine's, other helpers' traffic included; compare nat with direct, not across runs.")
}

func lb1Write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	benchRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	benchLat = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+(\S+)\s*$`)
	benchErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

type wrkResult struct {
	rps      float64
	p50, p99 string
	errors   int
	// CPU over the run: lb1's processes, the machine's softirq; d is the
	// run's length.
	cpu, softirq, d time.Duration
}

// per10k is c per 10,000 requests of the run.
func (r wrkResult) per10k(c time.Duration) string {
	n := r.rps * r.d.Seconds()
	if n == 0 {
		return "-"
	}
	return (c * 10000 / time.Duration(n)).Round(time.Millisecond).String()
}

// median returns the run with the median req/s (the upper one of an
// even count).
func median(rs []wrkResult) wrkResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b wrkResult) int { return cmp.Compare(a.rps, b.rps) })
	return s[len(s)/2]
}

func parseWrk(out string) wrkResult {
	var r wrkResult
	if m := benchRPS.FindStringSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range benchLat.FindAllStringSubmatch(out, -1) {
		if m[1] == "50" {
			r.p50 = m[2]
		} else {
			r.p99 = m[2]
		}
	}
	if m := benchErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.errors += n
		}
	}
	return r
}
