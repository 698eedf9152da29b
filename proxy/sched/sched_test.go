package sched

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func mustNew(t testing.TB, name string, seed uint64) Scheduler {
	t.Helper()
	s, err := New(name, rand.New(rand.NewPCG(seed, seed)))
	if err != nil {
		t.Fatalf("New(%q) error: %v", name, err)
	}
	return s
}

// clientN returns the n-th address of 198.18.0.0/15 (n < 131072).
func clientN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(n>>16), byte(n >> 8), byte(n)})
}

func TestNew(t *testing.T) {
	for _, name := range Names() {
		if _, err := New(name, nil); err != nil {
			t.Errorf("New(%q, nil) error: %v", name, err)
		}
	}
	_, err := New("wrr2", nil)
	if err == nil || !strings.Contains(err.Error(), `unknown scheduler "wrr2", want one of rr wrr lc wlc sh`) {
		t.Errorf("New(wrr2) error = %v, want unknown scheduler naming the value and the choices", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		sched   string
		cands   []Candidate
		wantErr string // "" = valid
	}{
		{"ok", "wrr", []Candidate{{Weight: 1}, {Weight: MaxWeight}, {Weight: 0}}, ""},
		{"all zero is valid (fallback serves)", "rr", []Candidate{{Weight: 0}}, ""},
		{"empty", "lc", nil, ""},
		{"negative", "wlc", []Candidate{{Weight: 1}, {Weight: -1}}, "sched: wlc: weight of candidate 1: -1 is out of range 0..65535"},
		{"too large", "sh", []Candidate{{Weight: MaxWeight + 1}}, "sched: sh: weight of candidate 0: 65536 is out of range 0..65535"},
		{"sh too many", "sh", make1(shTableSize + 1), "sched: sh: 4094 candidates with a positive weight, at most 4093"},
		{"unknown", "fifo", nil, `unknown scheduler "fifo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.sched, tt.cands)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate(%s) = %v, want nil", tt.sched, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate(%s) = %v, want error containing %q", tt.sched, err, tt.wantErr)
			}
		})
	}
}

func make1(n int) []Candidate {
	cs := make([]Candidate, n)
	for i := range cs {
		cs[i].Weight = 1
	}
	return cs
}

func TestPickNone(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, name, 1)
			client := clientN(7)
			for _, cands := range [][]Candidate{nil, {}, {{Weight: 0}}, {{Weight: 0, Active: 0}, {Weight: -3}}} {
				if got := s.Pick(cands, client); got != -1 {
					t.Errorf("Pick(%v) = %d, want -1", cands, got)
				}
			}
			// A scheduler that returned -1 recovers when a weight comes back.
			if got := s.Pick([]Candidate{{Weight: 0}, {Weight: 2}}, client); got != 1 {
				t.Errorf("Pick([0 2]) = %d, want 1", got)
			}
		})
	}
}

// TestDistribution checks each scheduler's shares over 100,000 picks against
// its weights, within 1% (of all picks). lc and wlc see connections that never
// close, so their shares follow the weights they balance.
func TestDistribution(t *testing.T) {
	const picks = 100_000
	weights := []int{1, 2, 3, 0, 4}
	equal := []float64{0.25, 0.25, 0.25, 0, 0.25}
	weighted := []float64{0.1, 0.2, 0.3, 0, 0.4}
	want := map[string][]float64{"rr": equal, "lc": equal, "wrr": weighted, "wlc": weighted, "sh": weighted}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, name, 42)
			cands := make([]Candidate, len(weights))
			for i, w := range weights {
				cands[i].Weight = w
			}
			count := make([]int, len(cands))
			for n := range picks {
				i := s.Pick(cands, clientN(n))
				if i < 0 {
					t.Fatalf("Pick #%d = -1, want a candidate", n)
				}
				count[i]++
				cands[i].Active++
			}
			for i, c := range count {
				got := float64(c) / picks
				if math.Abs(got-want[name][i]) > 0.01 {
					t.Errorf("share of candidate %d (weight %d) = %.4f, want %.4f±0.01 (counts %v)", i, weights[i], got, want[name][i], count)
				}
			}
		})
	}
}

func TestRoundRobinSkipsQuiescentFairly(t *testing.T) {
	s := mustNew(t, "rr", 0)
	cands := []Candidate{{Weight: 1}, {Weight: 0}, {Weight: 5}, {Weight: 1}}
	var got []int
	for range 60 {
		got = append(got, s.Pick(cands, netip.Addr{}))
	}
	// Starting point depends on the seed; the cycle must be 0 2 3 with no doubles.
	for k := 1; k < len(got); k++ {
		prev, cur := got[k-1], got[k]
		next := map[int]int{0: 2, 2: 3, 3: 0}[prev]
		if cur != next {
			t.Fatalf("Pick sequence = %v, want the cycle 0 2 3 (weight 0 skipped, weights ignored)", got)
		}
	}
}

func TestWeightedRoundRobinSmooth(t *testing.T) {
	s := mustNew(t, "wrr", 0)
	cands := []Candidate{{Weight: 5}, {Weight: 1}, {Weight: 1}}
	var b strings.Builder
	for range 7 {
		b.WriteByte("abc"[s.Pick(cands, netip.Addr{})])
	}
	if got, want := b.String(), "aabacaa"; got != want {
		t.Errorf("wrr sequence for weights 5 1 1 = %q, want %q (nginx smooth wrr)", got, want)
	}
}

func TestLeastConnPicks(t *testing.T) {
	tests := []struct {
		name  string
		sched string
		cands []Candidate
		want  int
	}{
		{"lc fewest", "lc", []Candidate{{1, 5}, {1, 2}, {1, 7}}, 1},
		{"lc ignores weight size", "lc", []Candidate{{100, 3}, {1, 2}}, 1},
		{"lc skips quiescent", "lc", []Candidate{{1, 5}, {0, 0}, {1, 7}}, 0},
		{"lc negative active counts as 0", "lc", []Candidate{{1, 1}, {1, -4}}, 1},
		{"wlc per weight", "wlc", []Candidate{{1, 1}, {3, 2}}, 1},      // 1/1 vs 2/3
		{"wlc heavier loses", "wlc", []Candidate{{1, 1}, {3, 4}}, 0},   // 1/1 vs 4/3
		{"wlc skips quiescent", "wlc", []Candidate{{0, 0}, {2, 9}}, 1}, // only one
		{"wlc no overflow", "wlc", []Candidate{{MaxWeight, math.MaxInt64}, {1, math.MaxInt64 / MaxWeight / 2}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, tt.sched, 3)
			for range 3 { // the rotating start must not matter without ties
				if got := s.Pick(tt.cands, netip.Addr{}); got != tt.want {
					t.Fatalf("%s.Pick(%v) = %d, want %d", tt.sched, tt.cands, got, tt.want)
				}
			}
		})
	}
}

// TestLeastConnFakeLoad runs a fake pool taking 60 new connections per tick (many, so that whole connections per tick do not skew the shares),
// where real 0 holds each connection for 4 ticks and real 1 for 2 ticks.
// lc equalises active counts (4*r0 = 2*r1: the fast real gets 2/3 of the
// picks); wlc with weights 1:3 equalises active/weight (4*r0 = 2*r1/3: 6/7).
func TestLeastConnFakeLoad(t *testing.T) {
	run := func(name string, weights [2]int) float64 {
		s := mustNew(t, name, 9)
		cands := []Candidate{{Weight: weights[0]}, {Weight: weights[1]}}
		hold := [2]int{4, 2}
		const ticks = 2_000
		ends := make([][2]int, ticks+5) // per tick, connections ending per real
		var count [2]int
		for tick := range ticks {
			for r := range 2 {
				cands[r].Active -= int64(ends[tick][r])
			}
			for range 60 {
				i := s.Pick(cands, netip.Addr{})
				count[i]++
				cands[i].Active++
				ends[tick+hold[i]][i]++
			}
		}
		return float64(count[1]) / float64(count[0]+count[1])
	}
	for _, tt := range []struct {
		name    string
		weights [2]int
		want    float64
	}{
		{"lc", [2]int{1, 1}, 2.0 / 3},
		{"wlc", [2]int{1, 3}, 6.0 / 7},
		{"wlc", [2]int{1, 1}, 2.0 / 3},
	} {
		if got := run(tt.name, tt.weights); math.Abs(got-tt.want) > 0.01 {
			t.Errorf("%s weights %v: fast real's share = %.4f, want %.4f±0.01", tt.name, tt.weights, got, tt.want)
		}
	}
}

func TestLeastConnTiesRotate(t *testing.T) {
	for _, name := range []string{"lc", "wlc"} {
		s := mustNew(t, name, 5)
		cands := make1(4)
		seen := map[int]bool{}
		for range 4 {
			seen[s.Pick(cands, netip.Addr{})] = true // Active stays equal: all ties
		}
		if len(seen) != 4 {
			t.Errorf("%s: 4 picks over 4 idle reals chose %v, want each once", name, seen)
		}
	}
}

func TestSeedDeterministic(t *testing.T) {
	for _, name := range Names() {
		a, b := mustNew(t, name, 77), mustNew(t, name, 77)
		cands := []Candidate{{1, 0}, {2, 0}, {3, 0}}
		for n := range 50 {
			if x, y := a.Pick(cands, clientN(n)), b.Pick(cands, clientN(n)); x != y {
				t.Fatalf("%s: pick %d with equal seeds = %d and %d, want equal", name, n, x, y)
			}
		}
	}
}

func TestSourceHashSticky(t *testing.T) {
	s := mustNew(t, "sh", 1)
	other := mustNew(t, "sh", 2) // a peer balancer, seeded differently
	cands := []Candidate{{Weight: 1}, {Weight: 1}, {Weight: 1}, {Weight: 1}}
	const clients = 20_000
	before := make([]int, clients)
	for n := range clients {
		before[n] = s.Pick(cands, clientN(n))
		for range 2 {
			cands[before[n]].Active += 5 // load must not move a client
			if got := s.Pick(cands, clientN(n)); got != before[n] {
				t.Fatalf("Pick(%v) = %d then %d, want stable", clientN(n), before[n], got)
			}
		}
		if got := other.Pick(cands, clientN(n)); got != before[n] {
			t.Fatalf("peer Pick(%v) = %d, want %d (same table on both balancers)", clientN(n), got, before[n])
		}
	}
	mapped := netip.AddrFrom16(clientN(3).As16())
	if got := s.Pick(cands, mapped); got != before[3] {
		t.Errorf("Pick(%v) = %d, want %d as for %v", mapped, got, before[3], clientN(3))
	}

	// Quiesce real 2: its clients move, the others should mostly stay.
	cands[2].Weight = 0
	moved, kept := 0, 0
	for n := range clients {
		got := s.Pick(cands, clientN(n))
		if got == 2 {
			t.Fatalf("Pick(%v) = 2 after weight 0", clientN(n))
		}
		if before[n] != 2 {
			if got == before[n] {
				kept++
			} else {
				moved++
			}
		}
	}
	if frac := float64(moved) / float64(moved+kept); frac > 0.15 {
		t.Errorf("after quiescing 1 of 4 reals, %.1f%% of the other clients moved, want at most 15%%", 100*frac)
	}
	t.Logf("quiescing 1 of 4: %.1f%% of unaffected clients moved", 100*float64(moved)/float64(moved+kept))
}

func TestConcurrentPick(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, name, 11)
			cands := []Candidate{{Weight: 1}, {Weight: 1}, {Weight: 1}}
			const goroutines, each = 4, 3000
			counts := make([][3]int, goroutines)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for n := range each {
						counts[g][s.Pick(cands, clientN(g*each+n))]++
					}
				})
			}
			wg.Wait()
			var total [3]int
			for _, c := range counts {
				for i := range c {
					total[i] += c[i]
				}
			}
			if name == "rr" || name == "wrr" {
				if total != [3]int{4000, 4000, 4000} {
					t.Errorf("%s concurrent totals = %v, want exactly 4000 each (no turn taken twice)", name, total)
				}
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{4, 32} {
		cands := make([]Candidate, n)
		for i := range cands {
			cands[i] = Candidate{Weight: 1 + i%3, Active: int64(i * 7 % 5)}
		}
		for _, name := range Names() {
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				s := mustNew(b, name, 1)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					s.Pick(cands, clientN(i&0xffff))
					i++
				}
			})
			b.Run(fmt.Sprintf("%s/n=%d/parallel", name, n), func(b *testing.B) {
				s := mustNew(b, name, 1)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						s.Pick(cands, clientN(i&0xffff))
						i++
					}
				})
			})
		}
	}
}

// TestFromHAProxy: HAProxy's balance algorithms name schedulers New takes.
func TestFromHAProxy(t *testing.T) {
	for balance, want := range map[string]string{"roundrobin": "wrr", "static-rr": "wrr", "leastconn": "wlc", "source": "sh"} {
		got, ok := FromHAProxy(balance)
		if !ok || got != want {
			t.Errorf("FromHAProxy(%q) = %q, %v; want %q, true", balance, got, ok, want)
		}
		if _, err := New(got, nil); err != nil {
			t.Errorf("New(%q) for HAProxy's %s: %v", got, balance, err)
		}
	}
	if got, ok := FromHAProxy("uri"); ok {
		t.Errorf("FromHAProxy(uri) = %q, true; want false (no scheduler hashes URIs)", got)
	}
}
