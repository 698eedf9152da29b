package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// sample is one run of one target in one cell.
type sample struct {
	rate       float64 // requests (datagrams) per second
	ops        int64   // requests (datagrams) answered in the run
	p50, p99   time.Duration
	errors     int
	wall       time.Duration
	proxyCPU   time.Duration // the proxy's process group, user + system
	backendCPU time.Duration
	loadCPU    time.Duration // wrk's
	rss        int64         // the proxy's peak resident set during the run, bytes
}

func (s sample) cpuPct() float64 {
	if s.wall <= 0 {
		return 0
	}
	return 100 * s.proxyCPU.Seconds() / s.wall.Seconds()
}

// cpuPerOp is the proxy's CPU time per request in µs.
func (s sample) cpuPerOp() float64 {
	if s.ops <= 0 {
		return 0
	}
	return float64(s.proxyCPU.Microseconds()) / float64(s.ops)
}

// summary is the medians of a target's samples in one cell.
type summary struct {
	n                int
	rate, lo, hi     float64
	p50, p99         time.Duration
	cpuPct, cpuPerOp float64
	rss              int64
	errors           int
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func summarize(ss []sample) summary {
	var rates, pct, per []float64
	var p50, p99 []time.Duration
	var rss []int64
	sum := summary{n: len(ss)}
	for _, s := range ss {
		rates = append(rates, s.rate)
		pct = append(pct, s.cpuPct())
		per = append(per, s.cpuPerOp())
		p50 = append(p50, s.p50)
		p99 = append(p99, s.p99)
		rss = append(rss, s.rss)
		sum.errors += s.errors
	}
	sum.rate, sum.lo, sum.hi = median(rates), slices.Min(rates), slices.Max(rates)
	sum.p50, sum.p99 = median(p50), median(p99)
	sum.cpuPct, sum.cpuPerOp = median(pct), median(per)
	sum.rss = slices.Max(rss)
	return sum
}

func printTable(w io.Writer, cells []cell, res map[cell]map[string][]sample) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	place := "unpinned"
	if pinned() {
		place = "pinned: load generator on CPU 0, proxies and backends on CPU 1"
	}
	fmt.Fprintf(w, "\n%d rounds × %v per target, interleaved; wrk -t%d -c%d; %s; each proxy %d core(s) (HAProxy nbthread, nginx worker_processes, hapair its CPU affinity, GOMAXPROCS at least 2: proxy.New raises it); load average after: %s\n",
		*rounds, *duration, *threads, *conns, place, proxyCPUs(), loadAvg())
	fmt.Fprintln(tw, "cell\ttarget\treq/s median\tmin–max\tp50\tp99\tproxy CPU %\tCPU µs/req\tRSS MiB\terrors\t")
	for _, c := range cells {
		for _, name := range []string{"direct", "hapair", "hapair-base", "haproxy", "nginx"} {
			ss := res[c][name]
			if len(ss) == 0 {
				continue
			}
			s := summarize(ss)
			cpu, per, rss := "-", "-", "-"
			if name != "direct" {
				cpu, per, rss = fmt.Sprintf("%.0f", s.cpuPct), fmt.Sprintf("%.1f", s.cpuPerOp), fmt.Sprintf("%.1f", float64(s.rss)/(1<<20))
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f–%.0f\t%v\t%v\t%s\t%s\t%s\t%d\t\n", c, name, s.rate, s.lo, s.hi, s.p50, s.p99, cpu, per, rss, s.errors)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "cell\tvs\treq/s ratio\tp99 ratio\tCPU/req ratio\tRSS ratio\tgoal met (req/s ≥ best, p99 ≤ its)\t")
	for _, c := range cells {
		hs, ok := res[c]["hapair"]
		if !ok {
			continue
		}
		h := summarize(hs)
		var best *summary
		var bestName string
		// hapair-base (-base) is the baseline of a change, not an anchor.
		for _, o := range []string{"hapair-base", "haproxy", "nginx"} {
			os, ok := res[c][o]
			if !ok {
				continue
			}
			a := summarize(os)
			r := func(x, y float64) string {
				if y == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f", x/y)
			}
			fmt.Fprintf(tw, "%s\thapair/%s\t%s\t%s\t%s\t%s\t\t\n", c, o, r(h.rate, a.rate), r(float64(h.p99), float64(a.p99)),
				r(h.cpuPerOp, a.cpuPerOp), r(float64(h.rss), float64(a.rss)))
			if o == "hapair-base" {
				continue
			}
			if best == nil || a.rate > best.rate {
				best, bestName = &a, o
			}
		}
		if best != nil {
			met := "yes"
			if h.rate < best.rate || h.p99 > best.p99 {
				met = "no"
			}
			fmt.Fprintf(tw, "%s\tbest: %s\t\t\t\t\t%s\t\n", c, bestName, met)
		}
	}
	tw.Flush()
}
