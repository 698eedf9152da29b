package replay

import (
	"math"
	"testing"
)

type pkt struct{ gen, seq uint64 }

func TestFilter(t *testing.T) {
	tests := []struct {
		name  string
		prior []pkt // accepted before the checked packet
		in    pkt
		want  Verdict
	}{
		{"first packet", nil, pkt{5, 9}, AcceptFirst},
		{"first packet zero", nil, pkt{0, 0}, AcceptFirst},
		{"next seq", []pkt{{5, 9}}, pkt{5, 10}, AcceptNext},
		{"seq gap", []pkt{{5, 9}}, pkt{5, 1000}, AcceptNext},
		{"duplicate from second link", []pkt{{5, 9}}, pkt{5, 9}, DropDuplicate},
		{"old seq", []pkt{{5, 9}}, pkt{5, 8}, DropOldSeq},
		{"restart resets seq", []pkt{{5, 9}}, pkt{6, 1}, AcceptRestart},
		{"restart with seq zero", []pkt{{5, 9}}, pkt{6, 0}, AcceptRestart},
		{"old generation high seq", []pkt{{5, 9}}, pkt{4, math.MaxUint64}, DropOldGeneration},
		{"replay after restart", []pkt{{5, 9}, {6, 1}}, pkt{5, 10}, DropOldGeneration},
		{"max values", []pkt{{math.MaxUint64, math.MaxUint64 - 1}}, pkt{math.MaxUint64, math.MaxUint64}, AcceptNext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Filter
			for _, p := range tt.prior {
				if v := f.Check(p.gen, p.seq); !v.Accepted() {
					t.Fatalf("setup Check(%d, %d) = %v, want an accept", p.gen, p.seq, v)
				}
			}
			if got := f.Check(tt.in.gen, tt.in.seq); got != tt.want {
				t.Errorf("Check(%d, %d) = %v, want %v", tt.in.gen, tt.in.seq, got, tt.want)
			}
		})
	}
}

// TestDropDoesNotRecord checks a dropped packet leaves the filter as it was.
func TestDropDoesNotRecord(t *testing.T) {
	var f Filter
	f.Check(5, 9)
	for _, p := range []pkt{{5, 9}, {5, 3}, {4, 100}} {
		f.Check(p.gen, p.seq)
		if gen, seq, ok := f.Last(); gen != 5 || seq != 9 || !ok {
			t.Errorf("after dropped Check(%d, %d): Last() = %d, %d, %v, want 5, 9, true", p.gen, p.seq, gen, seq, ok)
		}
	}
}

func TestReset(t *testing.T) {
	var f Filter
	f.Check(5, 9)
	f.Reset()
	if _, _, ok := f.Last(); ok {
		t.Errorf("Last() after Reset ok = true, want false")
	}
	if v := f.Check(1, 1); v != AcceptFirst {
		t.Errorf("Check(1, 1) after Reset = %v, want accept-first", v)
	}
}

func TestVerdictString(t *testing.T) {
	tests := []struct {
		v    Verdict
		want string
		ok   bool
	}{
		{AcceptFirst, "accept-first", true},
		{AcceptNext, "accept-next", true},
		{AcceptRestart, "accept-restart", true},
		{DropDuplicate, "duplicate", false},
		{DropOldSeq, "old-seq", false},
		{DropOldGeneration, "old-generation", false},
		{Verdict(99), "Verdict(99)", false},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("Verdict(%d).String() = %q, want %q", uint8(tt.v), got, tt.want)
		}
		if got := tt.v.Accepted(); got != tt.ok {
			t.Errorf("%v.Accepted() = %v, want %v", tt.v, got, tt.ok)
		}
	}
}
