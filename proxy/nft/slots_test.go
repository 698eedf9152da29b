package nft

import (
	"net/netip"
	"testing"
)

func TestSlots(t *testing.T) {
	r := func(w int, down bool) Real {
		return Real{Addr: netip.MustParseAddrPort("198.18.0.21:80"), Weight: w, Down: down}
	}
	tests := []struct {
		name  string
		reals []Real
		wrr   map[int]int // real index -> slots
		rr    int
	}{
		{"weights by gcd", []Real{r(2, false), r(4, false), r(6, false)}, map[int]int{0: 1, 1: 2, 2: 3}, 3},
		{"quiescent and down get none", []Real{r(0, false), r(3, true), r(5, false)}, map[int]int{2: 1}, 1},
		{"none", []Real{r(0, false)}, map[int]int{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[int]int{}
			for _, i := range wrrSlots(tt.reals) {
				got[i]++
			}
			if len(got) != len(tt.wrr) {
				t.Errorf("wrrSlots shares = %v, want %v", got, tt.wrr)
			}
			for i, n := range tt.wrr {
				if got[i] != n {
					t.Errorf("wrrSlots shares = %v, want %v", got, tt.wrr)
				}
			}
			if n := len(rrSlots(tt.reals)); n != tt.rr {
				t.Errorf("rrSlots len = %d, want %d", n, tt.rr)
			}
		})
	}
	// Smooth order: weights 5,1,1 never give the heavy real 5 in a row.
	got := wrrSlots([]Real{r(5, false), r(1, false), r(1, false)})
	if want := []int{0, 0, 1, 0, 2, 0, 0}; !equal(got, want) {
		t.Errorf("wrrSlots(5,1,1) = %v, want %v", got, want)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWeighted: rr alone gives each real one slot, so only wrr and sh are
// held to MaxSlots (Validate, node/serviceconf and the importer ask here).
func TestWeighted(t *testing.T) {
	for name, want := range map[string]bool{"rr": false, "wrr": true, "sh": true} {
		if got := Weighted(name); got != want {
			t.Errorf("Weighted(%q) = %v, want %v", name, got, want)
		}
	}
}
