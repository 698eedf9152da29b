package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

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
	var up, down, counted, withP99 int
	for _, run := range runs {
		r := pairedRatios(byRun[run][0], byRun[run][1])
		if r.rate.n == 0 {
			continue // a run without the two of them, say -only haproxy
		}
		counted++
		rates, p99s = append(rates, r.rate.median()), append(p99s, r.p99.median())
		if r.rate.mid >= 1 {
			up++
		}
		if r.p99.n > 0 {
			withP99++
			if r.p99.mid <= 1 {
				down++
			}
		}
	}
	if counted < 2 {
		return ""
	}
	return fmt.Sprintf("req/s %s (at least 1 in %d of %d runs); p99 %s (at most 1 in %d of %d)",
		strings.Join(rates, " "), up, counted, strings.Join(p99s, " "), down, withP99)
}

// ratio3 prints a ratio to three places, rounded away from 1 (down below
// it, up above it), so that a ratio the goal or an interval puts on one
// side of 1 never prints as 1.000: 0.9996 is 0.999, 1.0004 is 1.001. The
// 1e-9 keeps a ratio that is exactly three places (1.1, whose float64 is
// a hair above) from moving.
func ratio3(x float64) string {
	switch {
	case x < 1:
		x = math.Floor(x*1000+1e-9) / 1000
	case x > 1:
		x = math.Ceil(x*1000-1e-9) / 1000
	}
	return strconv.FormatFloat(x, 'f', 3, 64)
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

// median prints the median ratio (ratio3), "-" without one.
func (s spread) median() string {
	if s.n == 0 {
		return "-"
	}
	return ratio3(s.mid)
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
	return ratio3(s.ciLo) + "–" + ratio3(s.ciHi)
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
