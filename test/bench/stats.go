package main

import (
	"math"
	"slices"
)

// ciLevel is the least coverage medianCI's interval has.
const ciLevel = 0.95

// medianCI is a distribution-free confidence interval, of at least
// ciLevel coverage, for the median of the population xs was drawn from:
// the order statistics x(k) and x(n+1-k) (1-based, xs sorted), with k the
// largest for which P(B ≤ k-1) ≤ (1-ciLevel)/2, B ~ Binomial(n, 1/2). It
// assumes only that the rounds are independent draws of one distribution,
// no normal shape (the sign-test interval: Conover, Practical
// Nonparametric Statistics, 3rd ed., section 3.2). For 9 rounds it is
// x(2)–x(8), 96.1%; below 6 values no such interval exists and ok is
// false.
func medianCI(xs []float64) (lo, hi float64, ok bool) {
	n := len(xs)
	k := 0
	for cum, j := 0.0, 0; j < n; j++ {
		cum += binomHalf(n, j)
		if cum > (1-ciLevel)/2 {
			break
		}
		k = j + 1
	}
	if k == 0 {
		return 0, 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[k-1], s[n-k], true
}

// binomHalf is P(B = j) for B ~ Binomial(n, 1/2), through logarithms so
// that no term overflows or underflows for the counts of many pooled runs.
func binomHalf(n, j int) float64 {
	ln, _ := math.Lgamma(float64(n + 1))
	lj, _ := math.Lgamma(float64(j + 1))
	lnj, _ := math.Lgamma(float64(n - j + 1))
	return math.Exp(ln - lj - lnj - float64(n)*math.Ln2)
}

// noiseVerdict reads an interval of hapair's ratio against an anchor:
// "above" when all of it lies above 1, "below" when all of it lies below,
// "tie" when it holds 1 (the rounds cannot tell the two apart), "-"
// without an interval.
func noiseVerdict(lo, hi float64, ok bool) string {
	switch {
	case !ok:
		return "-"
	case lo > 1:
		return "above"
	case hi < 1:
		return "below"
	}
	return "tie"
}
