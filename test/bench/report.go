package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
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

	// Set by -pool only:
	run     string // the run the round belongs to (its id in the samples file)
	missing bool   // the target has no row for this round: a placeholder that keeps sample i of every target in round i
}

// targetNames are the targets of the tables, in their order: the
// reference, hapair, the baseline of a change (-base) and the anchors.
var targetNames = []string{"direct", "hapair", "hapair-base", "haproxy", "nginx"}

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

// summarize takes the medians of ss, placeholders (missing) left out; n
// is 0 when none is left. A round that answered nothing has a rate of 0,
// which counts, but no latency and no CPU per request: its p50, p99 and
// cpuPerOp of 0 are left out of theirs (0 there when no round had one).
func summarize(ss []sample) summary {
	var rates, pct, per []float64
	var p50, p99 []time.Duration
	var rss []int64
	var sum summary
	for _, s := range ss {
		if s.missing {
			continue
		}
		sum.n++
		rates = append(rates, s.rate)
		pct = append(pct, s.cpuPct())
		if s.cpuPerOp() > 0 {
			per = append(per, s.cpuPerOp())
		}
		if s.p99 > 0 {
			p50 = append(p50, s.p50)
			p99 = append(p99, s.p99)
		}
		rss = append(rss, s.rss)
		sum.errors += s.errors
	}
	if sum.n == 0 {
		return sum
	}
	sum.rate, sum.lo, sum.hi = median(rates), slices.Min(rates), slices.Max(rates)
	sum.p50, sum.p99 = median(p50), median(p99)
	sum.cpuPct, sum.cpuPerOp = median(pct), median(per)
	sum.rss = slices.Max(rss)
	return sum
}

// runHeader is the line above a run's tables: how it was measured.
func runHeader() string {
	place := "unpinned"
	if pinned() {
		place = "pinned: load generator on CPU 0, proxies and backends on CPU 1"
	}
	return fmt.Sprintf("%d rounds × %v per target, interleaved; wrk -t%d -c%d; %s; each proxy %d core(s) (HAProxy nbthread, nginx worker_processes, hapair its CPU affinity, GOMAXPROCS at least 2: proxy.New raises it); load average after: %s",
		*rounds, *duration, *threads, *conns, place, proxyCPUs(), loadAvg())
}

// printTable prints, under header, the table of every target in each
// cell, then hapair's ratios against each other target, paired round by
// round, with what the rounds can tell apart (each median's 95% interval,
// medianCI, and whether it lies above 1, below 1, or holds 1: a tie
// within the noise), and the goal's verdict (goalVerdict).
func printTable(w io.Writer, header string, cells []cell, res map[cell]map[string][]sample) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\n%s\n", header)
	fmt.Fprintln(tw, "cell\ttarget\treq/s median\tmin–max\tp50\tp99\tproxy CPU %\tCPU µs/req\tRSS MiB\terrors\t")
	for _, c := range cells {
		for _, name := range targetNames {
			ss := res[c][name]
			if len(ss) == 0 {
				continue
			}
			s := summarize(ss)
			if s.n == 0 {
				continue
			}
			cpu, per, rss := "-", "-", "-"
			if name != "direct" {
				cpu, rss = fmt.Sprintf("%.0f", s.cpuPct), fmt.Sprintf("%.1f", float64(s.rss)/(1<<20))
				if s.cpuPerOp > 0 {
					per = fmt.Sprintf("%.1f", s.cpuPerOp)
				}
			}
			p50, p99 := "-", "-"
			if s.p99 > 0 {
				p50, p99 = s.p50.String(), s.p99.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f–%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t\n", c, name, s.rate, s.lo, s.hi, p50, p99, cpu, per, rss, s.errors)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "cell\tvs\trounds\treq/s ratio\tmin–max\t95% interval\tp99 ratio\tmin–max\t95% interval\tCPU/req ratio\tRSS ratio\twithin the noise: req/s, p99\tgoal met (req/s ≥ each anchor's, p99 ≤ theirs)\t")
	var perRun []string
	for _, c := range cells {
		hs, ok := res[c]["hapair"]
		if !ok {
			continue
		}
		anchors := map[string]ratios{}
		// hapair-base (-base) is the baseline of a change, not an anchor.
		for _, o := range []string{"hapair-base", "haproxy", "nginx"} {
			os, ok := res[c][o]
			if !ok {
				continue
			}
			r := pairedRatios(hs, os)
			rounds := strconv.Itoa(r.rate.n)
			if r.p99.n != r.rate.n {
				rounds += fmt.Sprintf(" (p99 %d)", r.p99.n)
			}
			fmt.Fprintf(tw, "%s\thapair/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s, %s\t\t\n", c, o, rounds,
				r.rate.median(), r.rate.span(), r.rate.interval(), r.p99.median(), r.p99.span(), r.p99.interval(),
				r.cpuPerOp.median(), r.rssRatio(), r.rate.verdict("above", "below"), r.p99.verdict("worse", "better"))
			if o == "hapair-base" {
				continue
			}
			anchors[o] = r
			if line := runMedians(hs, os); line != "" {
				perRun = append(perRun, fmt.Sprintf("%s, against %s: %s", c, o, line))
			}
		}
		if len(anchors) > 0 {
			fmt.Fprintf(tw, "%s\tgoal\t\t\t\t\t\t\t\t\t\t\t%s\t\n", c, goalVerdict(anchors))
		}
	}
	tw.Flush()
	if len(perRun) > 0 {
		// Rounds of one run share its phase of the machine, so the
		// pooled intervals above, which take every round as an
		// independent draw, can be narrower than they should be; runs
		// that agree with each other are the check on that.
		fmt.Fprintln(w, "\nper run, the median of its rounds' ratios against each anchor:")
		for _, l := range perRun {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

// goalVerdict judges issue 14's goal from hapair's paired ratios against
// each anchor (HAProxy, nginx) of a cell: requests/s at least the best
// anchor's and p99 no worse than theirs, taken as a median ratio of at
// least 1 in req/s and at most 1 in p99 against every anchor. Judging
// against the best alone would need a best, and an anchor faster by its
// own median can still be faster than hapair in the rounds hapair shares
// with it. A "no" names every miss. An anchor with no round beside
// hapair is not counted; none at all is "not measured".
func goalVerdict(anchors map[string]ratios) string {
	var why []string
	measured := 0
	for _, o := range []string{"haproxy", "nginx"} {
		r, ok := anchors[o]
		if !ok || r.rate.n == 0 {
			continue
		}
		measured++
		if !(r.rate.mid >= 1) {
			why = append(why, "req/s under "+o+"'s")
		}
		switch {
		case r.p99.n == 0:
			why = append(why, "no p99 to compare with "+o+"'s")
		case !(r.p99.mid <= 1):
			why = append(why, "p99 over "+o+"'s")
		}
	}
	switch {
	case measured == 0:
		return "not measured: no round with an anchor"
	case len(why) > 0:
		return "no: " + strings.Join(why, ", ")
	}
	return "yes"
}
