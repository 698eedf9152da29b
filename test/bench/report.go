package main

import (
	"fmt"
	"io"
	"slices"
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
// is 0 when none is left.
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
		per = append(per, s.cpuPerOp())
		p50 = append(p50, s.p50)
		p99 = append(p99, s.p99)
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
// round, and against the best anchor of the cell (the faster by median
// req/s of HAProxy and nginx): the goal's verdict (median req/s ratio at
// least 1 and median p99 ratio at most 1), and beside it what the rounds
// can tell apart: each median's 95% interval (medianCI) and whether it
// lies above 1, below 1, or holds 1 (a tie within the noise).
func printTable(w io.Writer, header string, cells []cell, res map[cell]map[string][]sample) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\n%s\n", header)
	fmt.Fprintln(tw, "cell\ttarget\treq/s median\tmin–max\tp50\tp99\tproxy CPU %\tCPU µs/req\tRSS MiB\terrors\t")
	for _, c := range cells {
		for _, name := range []string{"direct", "hapair", "hapair-base", "haproxy", "nginx"} {
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
				cpu, per, rss = fmt.Sprintf("%.0f", s.cpuPct), fmt.Sprintf("%.1f", s.cpuPerOp), fmt.Sprintf("%.1f", float64(s.rss)/(1<<20))
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f–%.0f\t%v\t%v\t%s\t%s\t%s\t%d\t\n", c, name, s.rate, s.lo, s.hi, s.p50, s.p99, cpu, per, rss, s.errors)
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "cell\tvs\trounds\treq/s ratio\tmin–max\t95% interval\tp99 ratio\tmin–max\t95% interval\tCPU/req ratio\tRSS ratio\twithin the noise: req/s, p99\tgoal met (req/s ≥ best, p99 ≤ its)\t")
	var perRun []string
	for _, c := range cells {
		hs, ok := res[c]["hapair"]
		if !ok {
			continue
		}
		var best []sample
		var bestName string
		var bestRate float64
		// hapair-base (-base) is the baseline of a change, not an anchor.
		for _, o := range []string{"hapair-base", "haproxy", "nginx"} {
			os, ok := res[c][o]
			if !ok {
				continue
			}
			r := pairedRatios(hs, os)
			fmt.Fprintf(tw, "%s\thapair/%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s, %s\t\t\n", c, o, r.rate.n,
				r.rate.median(), r.rate.span(), r.rate.interval(), r.p99.median(), r.p99.span(), r.p99.interval(),
				r.cpuPerOp.median(), r.rssRatio(), r.rate.verdict("above", "below"), r.p99.verdict("worse", "better"))
			if o == "hapair-base" {
				continue
			}
			if a := summarize(os); a.n > 0 && (best == nil || a.rate > bestRate) {
				best, bestName, bestRate = os, o, a.rate
			}
		}
		if best != nil {
			r := pairedRatios(hs, best)
			met := "yes"
			if r.rate.n == 0 || r.p99.n == 0 || !(r.rate.mid >= 1) || !(r.p99.mid <= 1) {
				met = "no"
			}
			fmt.Fprintf(tw, "%s\tbest: %s\t\t\t\t\t\t\t\t\t\t\t%s\t\n", c, bestName, met)
			if line := runMedians(hs, best); line != "" {
				perRun = append(perRun, fmt.Sprintf("%s, against %s: %s", c, bestName, line))
			}
		}
	}
	tw.Flush()
	if len(perRun) > 0 {
		// Rounds of one run share its phase of the machine, so the
		// pooled intervals above, which take every round as an
		// independent draw, can be narrower than they should be; runs
		// that agree with each other are the check on that.
		fmt.Fprintln(w, "\nper run, the median of its rounds' ratios against the best anchor:")
		for _, l := range perRun {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

// runMedians gives, when h's rounds come from more than one run (-pool),
// each run's median req/s and p99 ratio against o, in the order the runs
// first appear, and how many runs were at least even; "" for one run.
func runMedians(h, o []sample) string {
	var runs []string
	byRun := map[string][2][]sample{}
	for i := range min(len(h), len(o)) {
		r := h[i].run
		if _, ok := byRun[r]; !ok {
			runs = append(runs, r)
		}
		pair := byRun[r]
		pair[0], pair[1] = append(pair[0], h[i]), append(pair[1], o[i])
		byRun[r] = pair
	}
	if len(runs) < 2 {
		return ""
	}
	var rates, p99s []string
	var up, down int
	for _, run := range runs {
		r := pairedRatios(byRun[run][0], byRun[run][1])
		rates, p99s = append(rates, r.rate.median()), append(p99s, r.p99.median())
		if r.rate.n > 0 && r.rate.mid >= 1 {
			up++
		}
		if r.p99.n > 0 && r.p99.mid <= 1 {
			down++
		}
	}
	return fmt.Sprintf("req/s %s (at least 1 in %d of %d runs); p99 %s (at most 1 in %d of %d)",
		strings.Join(rates, " "), up, len(runs), strings.Join(p99s, " "), down, len(runs))
}

// spread is one ratio over the paired rounds: how many, their median and
// range, and the median's 95% interval (medianCI; ciOK false with too few
// rounds). n is 0 when no round had both figures.
type spread struct {
	n           int
	mid, lo, hi float64
	ciLo, ciHi  float64
	ciOK        bool
}

// median prints the median ratio, "-" without one.
func (s spread) median() string {
	if s.n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", s.mid)
}

func (s spread) span() string {
	if s.n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f", s.lo, s.hi)
}

// interval prints the median's 95% interval, or "-" without one.
func (s spread) interval() string {
	if !s.ciOK {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f", s.ciLo, s.ciHi)
}

// verdict reads the interval (noiseVerdict), naming a side above 1 and
// one below as the caller's words: for req/s "above"/"below", for p99
// (lower is better) "worse"/"better".
func (s spread) verdict(above, below string) string {
	switch v := noiseVerdict(s.ciLo, s.ciHi, s.ciOK); v {
	case "above":
		return above
	case "below":
		return below
	default:
		return v
	}
}

// ratios compares hapair with one other target in one cell.
type ratios struct {
	rate, p99, cpuPerOp spread
	rss                 float64 // peak over peak; 0 when either has none
}

func (r ratios) rssRatio() string {
	if r.rss == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.rss)
}

// pairedRatios compares h and o round by round: sample i of each ran in
// the same round (main runs the targets of a round back to back), so the
// ratio of the two cancels what the machine did in that round (a slow
// phase of a shared host lasts longer than a run), and the median of the
// per-round ratios is the figure reported. A ratio of the two medians
// does not cancel it: an A/B of two builds over 8 rounds, whose
// per-round req/s ratios were 0.94 to 1.35 with a median of 0.99, read
// 1.16x that way, decided by one slow round of the base. A round either
// has no sample of (missing, with -pool) is left out, and so is a ratio
// with nothing measured on either side: a p99 or a CPU per request of 0
// is no measurement (no request was answered), while a rate of 0 over
// the other's is a round hapair answered nothing in, and counts as 0.
func pairedRatios(h, o []sample) ratios {
	var rate, p99, per []float64
	var hr, or int64
	for i := range min(len(h), len(o)) {
		if h[i].missing || o[i].missing {
			continue
		}
		if o[i].rate > 0 {
			rate = append(rate, h[i].rate/o[i].rate)
		}
		if o[i].p99 > 0 && h[i].p99 > 0 {
			p99 = append(p99, float64(h[i].p99)/float64(o[i].p99))
		}
		if o[i].cpuPerOp() > 0 && h[i].cpuPerOp() > 0 {
			per = append(per, h[i].cpuPerOp()/o[i].cpuPerOp())
		}
		hr, or = max(hr, h[i].rss), max(or, o[i].rss)
	}
	r := ratios{rate: spreadOf(rate), p99: spreadOf(p99), cpuPerOp: spreadOf(per)}
	if or > 0 && hr > 0 {
		r.rss = float64(hr) / float64(or)
	}
	return r
}

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	lo, hi, ok := medianCI(xs)
	return spread{n: len(xs), mid: median(xs), lo: slices.Min(xs), hi: slices.Max(xs), ciLo: lo, ciHi: hi, ciOK: ok}
}
