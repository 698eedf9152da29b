package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSamplesRoundTrip: what -samples appends, -pool reads back whole,
// and a second run appended to the same file keeps its own run id.
func TestSamplesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rounds.tsv")
	ka := cell{"l4", true}
	in := sample{rate: 43359.5, ops: 173438, p50: 1350 * time.Microsecond, p99: 3070 * time.Microsecond, errors: 2,
		wall: 4 * time.Second, proxyCPU: 2360 * time.Millisecond, backendCPU: time.Second, loadCPU: 3 * time.Second, rss: 22544384}
	for i, start := range []time.Time{time.Unix(1000, 0), time.Unix(2000, 0)} {
		w, err := openSamples(path, start)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.write(i+1, ka, "hapair", in); err != nil {
			t.Fatal(err)
		}
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := readSamples(path, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	if rows[0].run == rows[1].run {
		t.Errorf("both runs have id %q", rows[0].run)
	}
	got := rows[1]
	if got.round != 2 || got.c != ka || got.target != "hapair" || got.flows != *flows {
		t.Errorf("row = %+v", got)
	}
	if got.s.rate != in.rate || got.s.ops != in.ops || got.s.p50 != in.p50 || got.s.p99 != in.p99 || got.s.errors != in.errors ||
		got.s.wall != in.wall || got.s.proxyCPU != in.proxyCPU || got.s.backendCPU != in.backendCPU || got.s.loadCPU != in.loadCPU || got.s.rss != in.rss {
		t.Errorf("sample = %+v, want %+v", got.s, in)
	}
}

// TestReadSamplesErrors: a bad row is named by file, line and column.
func TestReadSamplesErrors(t *testing.T) {
	good := "r1\t1\tl4\tkeep-alive\t1000\thapair\t100.0\t400\t1\t2\t0\t4\t5\t6\t7\t8"
	for _, c := range []struct{ text, want string }{
		{"# header\n" + good + "\nr1\t1\tl4\n", "f.tsv:3: 3 fields, want 16"},
		{strings.Replace(good, "\t400\t", "\tmany\t", 1), `f.tsv:1: ops: "many" is not an integer`},
		{strings.Replace(good, "keep-alive", "pipelined", 1), `f.tsv:1: conn: "pipelined" is neither`},
		{strings.Replace(good, "\tl4\t", "\tsctp\t", 1), `f.tsv:1: mode: "sctp" is not l4, http or udp`},
		{strings.Replace(good, "100.0", "fast", 1), `f.tsv:1: req_per_s: "fast" is not a number`},
	} {
		_, err := readSamples("f.tsv", strings.NewReader(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.text, err, c.want)
		}
	}
}

// TestPoolRowsPairsWithinRounds: rounds of two runs pool into one
// sequence per target in which sample i of each comes from the same
// round, and a round a target is missing from is left out for all.
func TestPoolRowsPairsWithinRounds(t *testing.T) {
	ka := cell{"http", true}
	row := func(run string, round int, target string, rate float64) sampleRow {
		return sampleRow{run: run, round: round, c: ka, flows: 1000, target: target, s: sample{rate: rate}}
	}
	rows := []sampleRow{
		row("a", 1, "hapair", 110), row("a", 1, "haproxy", 100),
		row("a", 2, "haproxy", 50), row("a", 2, "hapair", 60), // another order
		row("b", 1, "hapair", 999), // haproxy missing: left out
		row("b", 2, "hapair", 90), row("b", 2, "haproxy", 100),
	}
	cells, res, runs, left, err := poolRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1 || runs != 2 || left != 1 {
		t.Fatalf("cells %v, runs %d, left %d; want 1 cell, 2 runs, 1 left out", cells, runs, left)
	}
	h, o := res[ka]["hapair"], res[ka]["haproxy"]
	if len(h) != 3 || len(o) != 3 {
		t.Fatalf("%d and %d samples, want 3 each", len(h), len(o))
	}
	for i, want := range []float64{1.1, 1.2, 0.9} {
		if got := h[i].rate / o[i].rate; got < want-1e-9 || got > want+1e-9 {
			t.Errorf("round %d: ratio %v, want %v", i, got, want)
		}
	}
	udp := []sampleRow{{run: "a", round: 1, c: cell{"udp", true}, flows: 1000, target: "hapair"}, {run: "b", round: 1, c: cell{"udp", true}, flows: 10, target: "hapair"}}
	if _, _, _, _, err := poolRows(udp); err == nil || !strings.Contains(err.Error(), "1000 and 10 flows") {
		t.Errorf("udp rounds of different flows pooled: %v", err)
	}
}

// TestPrintTableInterval: the best-anchor row gives the medians'
// intervals and what they tell; with 9 rounds all above 1 in req/s and
// all below in p99, "above, better".
func TestPrintTableInterval(t *testing.T) {
	c := cell{"l4", true}
	var h, o []sample
	for i := range 9 {
		h = append(h, smp(float64(110+i), 4*time.Millisecond, 1))
		o = append(o, smp(100, 5*time.Millisecond, 1))
	}
	var b strings.Builder
	printTable(&b, "header", []cell{c}, map[cell]map[string][]sample{c: {"hapair": h, "haproxy": o}})
	out := b.String()
	for _, want := range []string{"header", "best: haproxy", "95%: 1.11–1.17", "95%: 0.80–0.80", "yes", "above, better"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
