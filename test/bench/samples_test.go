package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSamplesRoundTrip: what -samples appends, -pool reads back whole
// (the rate to the last bit), and a second run appended to the same file,
// started in the same second, keeps its own run id and settings.
func TestSamplesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rounds.tsv")
	ka := cell{"l4", true}
	in := sample{rate: 123456.78901234567, ops: 173438, p50: 1350 * time.Microsecond, p99: 3070 * time.Microsecond, errors: 2,
		wall: 4 * time.Second, proxyCPU: 2360 * time.Millisecond, backendCPU: time.Second, loadCPU: 3 * time.Second, rss: 22544384}
	for i, start := range []time.Time{time.Unix(1000, 0), time.Unix(1000, 5)} {
		w, err := openSamples(path, start, "d=4s run"+string(rune('A'+i)))
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
	sf, err := readSamples(path, f)
	if err != nil {
		t.Fatal(err)
	}
	rows := sf.rows
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	if rows[0].run == rows[1].run {
		t.Errorf("both runs have id %q", rows[0].run)
	}
	if sf.settings[rows[0].run] != "d=4s runA" || sf.settings[rows[1].run] != "d=4s runB" {
		t.Errorf("settings = %v", sf.settings)
	}
	got := rows[1]
	if got.round != 2 || got.c != ka || got.target != "hapair" || got.flows != *flows {
		t.Errorf("row = %+v", got)
	}
	in.run = got.run
	if got.s != in {
		t.Errorf("sample = %+v, want %+v", got.s, in)
	}
}

// TestReadSamplesErrors: a bad row is named by file, line and column, and
// nothing that is not a finite count, rate or duration of at least 0 is
// taken for one.
func TestReadSamplesErrors(t *testing.T) {
	run := "#run\tr1\td=4s\n"
	good := "r1\t1\tl4\tkeep-alive\t1000\thapair\t100.5\t400\t1\t2\t0\t4\t5\t6\t7\t8"
	for _, c := range []struct{ text, want string }{
		{"# header\n" + run + good + "\nr1\t1\tl4\n", "f.tsv:4: 3 fields, want 16"},
		{run + strings.Replace(good, "\t400\t", "\tmany\t", 1) + "\n", `f.tsv:2: ops: "many" is not a whole number from 0 to 2^53`},
		{run + strings.Replace(good, "\t400\t", "\t-400\t", 1) + "\n", `f.tsv:2: ops: "-400" is not a whole number from 0 to 2^53`},
		{run + strings.Replace(good, "keep-alive", "pipelined", 1) + "\n", `f.tsv:2: conn: "pipelined" is neither`},
		{run + strings.Replace(good, "\tl4\t", "\tsctp\t", 1) + "\n", `f.tsv:2: mode: "sctp" is not l4, http or udp`},
		{run + strings.Replace(good, "100.5", "fast", 1) + "\n", `f.tsv:2: req_per_s: "fast" is not a number from 0 to 2^53`},
		{run + strings.Replace(good, "100.5", "NaN", 1) + "\n", `f.tsv:2: req_per_s: "NaN" is not a number from 0 to 2^53`},
		{run + strings.Replace(good, "100.5", "+Inf", 1) + "\n", `f.tsv:2: req_per_s: "+Inf" is not a number from 0 to 2^53`},
		{run + strings.Replace(good, "100.5", "-3", 1) + "\n", `f.tsv:2: req_per_s: "-3" is not a number from 0 to 2^53`},
		{run + strings.Replace(good, "\t400\t", "\t9223372036854775807\t", 1) + "\n", `f.tsv:2: ops: "9223372036854775807" is not a whole number from 0 to 2^53`},
		{run + strings.Replace(good, "100.5", "1.7e308", 1) + "\n", `f.tsv:2: req_per_s: "1.7e308" is not a number`},
		{run + strings.Replace(good, "r1\t1\t", "r1\t0\t", 1) + "\n", `f.tsv:2: round: "0", rounds count from 1`},
		{run + strings.Replace(good, "hapair", "HAProxy", 1) + "\n", `f.tsv:2: target: "HAProxy" is not one of direct, hapair`},
		{run + strings.Replace(strings.Replace(good, "\tl4\t", "\tudp\t", 1), "keep-alive", "close", 1) + "\n", `f.tsv:2: conn: "close", the udp cell is written as "keep-alive"`},
		{run + strings.Replace(good, "r1\t", "\t", 1) + "\n", `f.tsv:2: run: empty`},
		{run + run, `f.tsv:2: run "r1" starts a second time`},
		{"#run\t\td=4s\n", `f.tsv:1: #run line without a run id`},
		{run + good + "\n" + strings.TrimSuffix(good, "8"), "f.tsv:3: the last line has no newline"},
		{good + "\n", `f.tsv:1: run "r1" has no #run line before it`},
	} {
		_, err := readSamples("f.tsv", strings.NewReader(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.text, err, c.want)
		}
	}
	sf, err := readSamples("f.tsv", strings.NewReader(strings.ReplaceAll(run+good+"\n", "\n", "\r\n")))
	if err != nil || len(sf.rows) != 1 {
		t.Errorf("CRLF file: %v, %d rows", err, len(sf.rows))
	}
}

// TestPoolRowsPairsWithinRounds: rounds of two runs pool into one
// sequence per target in which sample i of each comes from the same
// round; a round one target is missing from leaves out only the pairs
// with that target.
func TestPoolRowsPairsWithinRounds(t *testing.T) {
	ka := cell{"http", true}
	row := func(run string, round int, target string, rate float64) sampleRow {
		return sampleRow{run: run, round: round, c: ka, flows: 1000, target: target, s: sample{rate: rate, run: run}}
	}
	rows := []sampleRow{
		row("a", 1, "hapair", 110), row("a", 1, "haproxy", 100), row("a", 1, "nginx", 100),
		row("a", 2, "nginx", 50), row("a", 2, "haproxy", 50), row("a", 2, "hapair", 60), // another order
		row("b", 1, "hapair", 80), row("b", 1, "nginx", 100), // haproxy missing
		row("b", 2, "hapair", 90), row("b", 2, "haproxy", 100), row("b", 2, "nginx", 100),
	}
	cells, res, err := poolRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1 {
		t.Fatalf("cells %v, want 1", cells)
	}
	want := map[string][]float64{"haproxy": {1.1, 1.2, 0.9}, "nginx": {1.1, 1.2, 0.8, 0.9}}
	for o, ratios := range want {
		var got []float64
		h, os := res[ka]["hapair"], res[ka][o]
		for i := range h {
			if !h[i].missing && !os[i].missing {
				got = append(got, h[i].rate/os[i].rate)
			}
		}
		if len(got) != len(ratios) {
			t.Fatalf("hapair/%s: %v, want %v", o, got, ratios)
		}
		for i := range got {
			if d := got[i] - ratios[i]; d > 1e-9 || d < -1e-9 {
				t.Errorf("hapair/%s round %d: %v, want %v", o, i, got[i], ratios[i])
			}
		}
		if r := pairedRatios(h, os); r.rate.n != len(ratios) {
			t.Errorf("hapair/%s: pairedRatios used %d rounds, want %d", o, r.rate.n, len(ratios))
		}
	}
	if s := summarize(res[ka]["haproxy"]); s.n != 3 {
		t.Errorf("haproxy summarized over %d rounds, want 3 (the placeholder left out)", s.n)
	}
	udp := []sampleRow{{run: "a", round: 1, c: cell{"udp", true}, flows: 1000, target: "hapair"}, {run: "b", round: 1, c: cell{"udp", true}, flows: 10, target: "hapair"}}
	if _, _, err := poolRows(udp); err == nil || !strings.Contains(err.Error(), "udp rounds of 10 flows cannot be pooled with those of 1000") {
		t.Errorf("udp rounds of different flows pooled: %v", err)
	}
}

// TestPoolRunsRefusesMixedSettings: runs with different load settings are
// not pooled; the same settings are, with a per-run line.
func TestPoolRunsRefusesMixedSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, settings string, start time.Time, rate float64) string {
		path := filepath.Join(dir, name)
		w, err := openSamples(path, start, settings)
		if err != nil {
			t.Fatal(err)
		}
		for round := 1; round <= 3; round++ {
			w.write(round, cell{"l4", true}, "hapair", smp(rate, 4*time.Millisecond, 1))
			w.write(round, cell{"l4", true}, "haproxy", smp(100, 5*time.Millisecond, 1))
		}
		w.close()
		return path
	}
	a := write("a.tsv", "d=4s c=64", time.Unix(1, 0), 110)
	b := write("b.tsv", "d=4s c=64", time.Unix(2, 0), 90)
	c := write("c.tsv", "d=10s c=64", time.Unix(3, 0), 100)
	var out strings.Builder
	if err := poolRuns(&out, []string{a, b, ""}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 run(s)", "each run d=4s c=64", "req/s 1.100 0.900 (at least 1 in 1 of 2 runs)", "p99 0.800 0.800 (at most 1 in 2 of 2)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("pooled table lacks %q:\n%s", want, out.String())
		}
	}
	if err := poolRuns(&out, []string{a, c}); err == nil || !strings.Contains(err.Error(), "was measured with d=10s c=64") || !strings.Contains(err.Error(), "with d=4s c=64: not pooled") {
		t.Errorf("runs of different settings: %v", err)
	}
}

// TestPrintTableInterval: each ratio row gives how many rounds were
// paired, the medians' intervals and what they tell; with 9 rounds all
// above 1 in req/s and all below in p99, "above, better", under the
// columns that name them.
func TestPrintTableInterval(t *testing.T) {
	c := cell{"l4", true}
	var h, o []sample
	for i := range 9 {
		h = append(h, smp(float64(110+i), 4*time.Millisecond, 1))
		o = append(o, smp(100, 5*time.Millisecond, 1))
	}
	var b strings.Builder
	printTable(&b, "header", []cell{c}, map[cell]map[string][]sample{c: {"hapair": h, "haproxy": o}})
	cols := func(prefix string) (head, row []string) {
		for _, l := range strings.Split(b.String(), "\n") {
			f := strings.Split(strings.TrimSpace(l), "  ")
			var clean []string
			for _, x := range f {
				if x = strings.TrimSpace(x); x != "" {
					clean = append(clean, x)
				}
			}
			if len(clean) > 0 && clean[0] == "cell" && len(clean) > 1 && clean[1] == "vs" {
				head = clean
			}
			if strings.Contains(l, prefix) {
				row = clean
			}
		}
		return head, row
	}
	head, row := cols("hapair/haproxy")
	want := map[string]string{"rounds": "9", "req/s ratio": "1.140", "p99 ratio": "0.800", "within the noise: req/s, p99": "above, better"}
	for i, name := range head {
		if v, ok := want[name]; ok && (i >= len(row) || row[i] != v) {
			t.Errorf("column %q: row %v", name, row)
		}
	}
	if !strings.Contains(strings.Join(row, "|"), "1.110–1.170") {
		t.Errorf("no req/s interval in %v", row)
	}
	if _, goal := cols("goal"); len(goal) == 0 || goal[len(goal)-1] != "yes" {
		t.Errorf("goal row %v, want yes", goal)
	}
}

// TestGoalNeedsBothFigures: a cell whose anchor has no p99 (no round
// measured one) does not meet the goal by default, and a round hapair
// answered nothing in counts as a ratio of 0, not as no data.
func TestGoalNeedsBothFigures(t *testing.T) {
	c := cell{"http", false}
	var h, o []sample
	for range 9 {
		h = append(h, smp(127, 900*time.Millisecond, 1))
		o = append(o, smp(100, 0, 1))
	}
	var b strings.Builder
	printTable(&b, "", []cell{c}, map[cell]map[string][]sample{c: {"hapair": h, "haproxy": o}})
	if !strings.HasSuffix(strings.TrimSpace(lineWith(b.String(), "goal  ")), "no: no p99 to compare with haproxy's") {
		t.Errorf("goal met without a p99 to compare:\n%s", b.String())
	}
	h[0], h[1], h[2], h[3], h[4] = smp(0, 0, 1), smp(0, 0, 1), smp(0, 0, 1), smp(0, 0, 1), smp(0, 0, 1)
	if r := pairedRatios(h, o); r.rate.n != 9 || r.rate.mid != 0 || r.rate.median() != "0.000" {
		t.Errorf("rate = %+v (%s), want 9 rounds with median 0.000", r.rate, r.rate.median())
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// TestPoolRefusesDuplicates: a second row for one target in one round, or
// one run in two files (the same file named twice), is refused naming
// where, not silently kept or dropped.
func TestPoolRefusesDuplicates(t *testing.T) {
	rows := []sampleRow{
		{run: "a", round: 1, c: cell{"l4", true}, target: "hapair", s: sample{rate: 100}, where: "f.tsv:2"},
		{run: "a", round: 1, c: cell{"l4", true}, target: "hapair", s: sample{rate: 999999}, where: "f.tsv:3"},
	}
	if _, _, err := poolRows(rows); err == nil || !strings.Contains(err.Error(), "f.tsv:3: a second row for hapair in l4, keep-alive, round 1 of run a (first at f.tsv:2)") {
		t.Errorf("duplicate row: %v", err)
	}
	path := filepath.Join(t.TempDir(), "a.tsv")
	w, err := openSamples(path, time.Unix(1, 0), "d=4s")
	if err != nil {
		t.Fatal(err)
	}
	w.write(1, cell{"l4", true}, "hapair", smp(100, time.Millisecond, 1))
	w.close()
	var out strings.Builder
	if err := poolRuns(&out, []string{path, path}); err == nil || !strings.Contains(err.Error(), "is in an earlier file too") {
		t.Errorf("one file twice: %v", err)
	}
	if err := poolRuns(&out, []string{"", ""}); err == nil || !strings.Contains(err.Error(), "names no samples file") {
		t.Errorf("no file: %v", err)
	}
}

// TestGoalAgainstEveryAnchor: the goal holds only when hapair is at
// least even in req/s and p99 with each anchor over the rounds it shares
// with it. With -pool, an anchor's rounds of a run hapair was not in (a
// run with -only haproxy) count for nothing, in the goal or the per-run
// line; an anchor with no round beside hapair leaves it "not measured";
// and in one run, an anchor faster by its own median cannot hide a slower
// hapair against the other.
func TestGoalAgainstEveryAnchor(t *testing.T) {
	c := cell{"l4", true}
	goalOf := func(res map[string][]sample) string {
		var b strings.Builder
		printTable(&b, "", []cell{c}, map[cell]map[string][]sample{c: res})
		if strings.Contains(b.String(), "per run") {
			t.Errorf("a per-run line from one run with hapair:\n%s", b.String())
		}
		return strings.TrimSpace(strings.SplitN(strings.TrimSpace(lineWith(b.String(), "goal  ")), "goal", 2)[1])
	}
	var h, hp, ng, only []sample
	for range 6 { // run A: all three; nginx faster than hapair
		h = append(h, sample{rate: 100, p99: time.Millisecond, run: "A"})
		hp = append(hp, sample{rate: 95, p99: time.Millisecond, run: "A"})
		ng = append(ng, sample{rate: 110, p99: time.Millisecond, run: "A"})
		only = append(only, sample{run: "A", missing: true})
	}
	for range 7 { // run B: haproxy alone, much faster
		h = append(h, sample{run: "B", missing: true})
		hp = append(hp, sample{rate: 200, p99: time.Millisecond, run: "B"})
		ng = append(ng, sample{run: "B", missing: true})
		only = append(only, sample{rate: 200, p99: time.Millisecond, run: "B"})
	}
	if g := goalOf(map[string][]sample{"hapair": h, "haproxy": hp, "nginx": ng}); g != "no: req/s under nginx's" {
		t.Errorf("goal %q, want no: req/s under nginx's", g)
	}
	// Slower and with a longer tail: both misses named.
	slow := make([]sample, len(h))
	for i := range h {
		slow[i] = h[i]
		if !h[i].missing {
			slow[i] = sample{rate: 90, p99: 2 * time.Millisecond, run: h[i].run}
		}
	}
	if g := goalOf(map[string][]sample{"hapair": slow, "haproxy": hp}); g != "no: req/s under haproxy's, p99 over haproxy's" {
		t.Errorf("goal %q, want both misses against haproxy named", g)
	}
	if g := goalOf(map[string][]sample{"hapair": h, "haproxy": only}); g != "not measured: no round with an anchor" {
		t.Errorf("goal %q, want not measured", g)
	}
	// One run: haproxy's median (105) above nginx's (100.5), yet hapair
	// is slower than nginx in most rounds they share.
	h, hp, ng = nil, nil, nil
	for i := range 9 {
		h = append(h, sample{rate: 101, p99: time.Millisecond})
		hp = append(hp, sample{rate: 100 + float64(i%2)*10, p99: 2 * time.Millisecond})
		ng = append(ng, sample{rate: 102 - float64(i%4/3)*10, p99: 2 * time.Millisecond})
	}
	if g := goalOf(map[string][]sample{"hapair": h, "haproxy": hp, "nginx": ng}); g != "no: req/s under haproxy's, req/s under nginx's" && g != "no: req/s under nginx's" {
		t.Errorf("goal %q, want hapair under nginx named", g)
	}
}

func TestRatio3AwayFromOne(t *testing.T) {
	for x, want := range map[float64]string{0.9996: "0.999", 1.0004: "1.001", 1: "1.000", 1.1: "1.100", 0.8: "0.800", 0.999: "0.999", 2.5: "2.500", 0: "0.000"} {
		if got := ratio3(x); got != want {
			t.Errorf("ratio3(%v) = %s, want %s", x, got, want)
		}
	}
}

// TestSummarizeLeavesOutUnanswered: a round that answered nothing counts
// in the rate's median (as 0) but not in the latency's or CPU per
// request's, which would read as perfect.
func TestSummarizeLeavesOutUnanswered(t *testing.T) {
	ss := []sample{smp(0, 0, 1), smp(0, 0, 1), smp(100, 4*time.Millisecond, 1)}
	ss[0].ops, ss[1].ops = 0, 0
	s := summarize(ss)
	if s.rate != 0 || s.p99 != 4*time.Millisecond || s.cpuPerOp != 10 {
		t.Errorf("summary %+v: want rate 0, p99 4ms, 10 µs/req", s)
	}
}
