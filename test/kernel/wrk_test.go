package kernel

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// wrkLua is the wrk script of the kernel bench: at the end it prints the
// latency distribution as 1,000 quantiles ("Q 99.0 1234", µs), so the
// runs of two wrk processes can be pooled, and with THINK_MS set each
// connection waits that long before each request (wrk's delay(), from the
// response to the next request): a fixed offered load rather than as
// many requests as the slowest stage lets through.
const wrkLua = `
local think = tonumber(os.getenv("THINK_MS") or "0")
if think > 0 then
  delay = function() return think end
end
done = function(summary, latency, requests)
  io.write(string.format("REQS %d\n", summary.requests))
  for i = 1, 1000 do
    io.write(string.format("Q %.1f %d\n", i / 10, latency:percentile(i / 10)))
  end
end
`

// wrkLoad is one measurement's load: wrk processes, one per URL, side by
// side, each with one thread and conns connections, for d.
type wrkLoad struct {
	script string // path of wrkLua
	urls   []string
	conns  int
	d      time.Duration
	think  time.Duration // 0: none
	close  bool          // a new connection per request
}

// run runs the load from client and returns the pooled result.
func (w wrkLoad) run(client *lab.Host) (wrkResult, error) {
	outs := make([]string, len(w.urls))
	errs := make([]error, len(w.urls))
	var wg sync.WaitGroup
	for i, u := range w.urls {
		args := []string{"env", fmt.Sprintf("THINK_MS=%d", w.think.Milliseconds()), "wrk", "-t1",
			fmt.Sprintf("-c%d", w.conns), "-d" + w.d.String(), "-s", w.script}
		if w.close {
			args = append(args, "-H", "Connection: close")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := client.RunFor(w.d+30*time.Second, append(args, u)...)
			outs[i] = string(out)
			if err != nil {
				errs[i] = fmt.Errorf("wrk %s: %w\n%s", u, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return wrkResult{}, err
		}
	}
	return poolWrk(outs)
}

var (
	benchRPS  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	benchErr  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	benchNon2 = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	benchReqs = regexp.MustCompile(`(?m)^REQS (\d+)$`)
	benchQ    = regexp.MustCompile(`(?m)^Q [0-9.]+ (\d+)$`)
)

type wrkResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
	// CPU over the run: lb1's processes, the machine's softirq; d is the
	// run's length.
	cpu, softirq, d time.Duration
}

// poolWrk sums the req/s and errors of wrk outputs and pools their
// latency quantiles, each weighted by its process's request count.
func poolWrk(outs []string) (wrkResult, error) {
	type point struct {
		lat time.Duration
		w   float64
	}
	var r wrkResult
	var pts []point
	var total float64
	for _, out := range outs {
		m, n, qs := benchRPS.FindStringSubmatch(out), benchReqs.FindStringSubmatch(out), benchQ.FindAllStringSubmatch(out, -1)
		if m == nil || n == nil || len(qs) != 1000 {
			return r, fmt.Errorf("wrk output without Requests/sec, REQS or 1000 quantiles:\n%s", out)
		}
		rps, _ := strconv.ParseFloat(m[1], 64)
		reqs, _ := strconv.ParseFloat(n[1], 64)
		r.rps += rps
		total += reqs
		for _, q := range qs {
			us, _ := strconv.Atoi(q[1])
			pts = append(pts, point{time.Duration(us) * time.Microsecond, reqs / 1000})
		}
		for _, re := range []*regexp.Regexp{benchErr, benchNon2} {
			if m := re.FindStringSubmatch(out); m != nil {
				for _, s := range m[1:] {
					n, _ := strconv.Atoi(s)
					r.errors += n
				}
			}
		}
	}
	slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.lat, b.lat) })
	quantile := func(p float64) time.Duration {
		var acc float64
		for _, pt := range pts {
			if acc += pt.w; acc >= total*p*(1-1e-9) {
				return pt.lat
			}
		}
		return pts[len(pts)-1].lat
	}
	r.p50, r.p99 = quantile(0.50), quantile(0.99)
	return r, nil
}

// per10k is c per 10,000 requests of the run.
func (r wrkResult) per10k(c time.Duration) string {
	n := r.rps * r.d.Seconds()
	if n == 0 {
		return "-"
	}
	return (c * 10000 / time.Duration(n)).Round(time.Millisecond).String()
}

// lat shows a latency as wrk does: µs below a millisecond, else ms.
func lat(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// median returns the median run by key (the upper one of an even count).
func median(rs []wrkResult, key func(wrkResult) float64) wrkResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b wrkResult) int { return cmp.Compare(key(a), key(b)) })
	return s[len(s)/2]
}
