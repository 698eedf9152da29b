package main

import (
	"math"
	"testing"
)

// TestMedianCIOrderStatistics: the interval's ends are the order
// statistics the sign test gives (tables in Conover, 3rd ed., A3): 9
// values x(2)–x(8), 6 values min–max, 45 values x(16)–x(30), and none
// below 6.
func TestMedianCIOrderStatistics(t *testing.T) {
	seq := func(n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(n - i) // descending, so the sort matters
		}
		return xs
	}
	for _, c := range []struct {
		n      int
		lo, hi float64
		ok     bool
	}{{5, 0, 0, false}, {6, 1, 6, true}, {9, 2, 8, true}, {45, 16, 30, true}} {
		lo, hi, ok := medianCI(seq(c.n))
		if lo != c.lo || hi != c.hi || ok != c.ok {
			t.Errorf("n=%d: got %v–%v ok=%v, want %v–%v ok=%v", c.n, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
}

// TestBinomHalfSums: the probabilities of one n add up to 1, also where
// 2^-n underflows a float64 as a plain product.
func TestBinomHalfSums(t *testing.T) {
	for _, n := range []int{1, 9, 45, 1200} {
		sum := 0.0
		for j := 0; j <= n; j++ {
			sum += binomHalf(n, j)
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("n=%d: sum %v", n, sum)
		}
	}
	if got := binomHalf(9, 1); math.Abs(got-9.0/512) > 1e-12 {
		t.Errorf("P(B=1), n=9: %v, want %v", got, 9.0/512)
	}
}

func TestNoiseVerdict(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		ok     bool
		want   string
	}{{1.01, 1.2, true, "above"}, {0.8, 0.99, true, "below"}, {0.97, 1.06, true, "tie"}, {1, 1.1, true, "tie"}, {0, 0, false, "-"}} {
		if got := noiseVerdict(c.lo, c.hi, c.ok); got != c.want {
			t.Errorf("%v–%v ok=%v: %q, want %q", c.lo, c.hi, c.ok, got, c.want)
		}
	}
}
