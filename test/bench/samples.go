package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The samples file (-samples) keeps every round of every run, one
// tab-separated row per target and round, so that runs made apart (two
// `make bench` of one commit, say) can be judged together by -pool: more
// rounds narrow the medians' intervals that one run leaves wide. Rows are
// appended; lines starting with # are comments.
var sampleColumns = []string{"run", "round", "mode", "conn", "flows", "target",
	"req_per_s", "ops", "p50_ns", "p99_ns", "errors", "wall_ns", "proxy_cpu_ns", "backend_cpu_ns", "load_cpu_ns", "rss_bytes"}

// sampleRow is one line of a samples file.
type sampleRow struct {
	run    string // the run's start, RFC 3339: rounds pair only within a run
	round  int    // from 1
	c      cell
	flows  int
	target string
	s      sample
}

// sampleWriter appends rows to a samples file; a nil one writes nothing.
type sampleWriter struct {
	f   *os.File
	run string
}

// openSamples opens path for appending (creating it with a header line),
// or returns nil for an empty path.
func openSamples(path string, start time.Time) (*sampleWriter, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("samples file: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		fmt.Fprintf(f, "# %s\n", strings.Join(sampleColumns, "\t"))
	}
	return &sampleWriter{f: f, run: start.UTC().Format(time.RFC3339)}, nil
}

func (w *sampleWriter) write(round int, c cell, target string, s sample) error {
	if w == nil {
		return nil
	}
	_, err := fmt.Fprintf(w.f, "%s\t%d\t%s\t%s\t%d\t%s\t%.1f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
		w.run, round, c.mode, connLabel(c.keepAlive), *flows, target,
		s.rate, s.ops, s.p50, s.p99, s.errors, s.wall, s.proxyCPU, s.backendCPU, s.loadCPU, s.rss)
	if err != nil {
		return fmt.Errorf("samples file: %w", err)
	}
	return nil
}

func (w *sampleWriter) close() error {
	if w == nil {
		return nil
	}
	return w.f.Close()
}

// readSamples parses a samples file; an error names the file and line.
func readSamples(name string, r io.Reader) ([]sampleRow, error) {
	var rows []sampleRow
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		row, err := parseSampleRow(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rows, nil
}

func parseSampleRow(text string) (sampleRow, error) {
	f := strings.Split(text, "\t")
	if len(f) != len(sampleColumns) {
		return sampleRow{}, fmt.Errorf("%d fields, want %d (%s)", len(f), len(sampleColumns), strings.Join(sampleColumns, ", "))
	}
	var row sampleRow
	var errs []error
	num := func(col int) int64 {
		v, err := strconv.ParseInt(f[col], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", sampleColumns[col], f[col]))
		}
		return v
	}
	row.run, row.target = f[0], f[5]
	row.round = int(num(1))
	row.c.mode = f[2]
	switch f[3] {
	case connLabel(true):
		row.c.keepAlive = true
	case connLabel(false):
	default:
		errs = append(errs, fmt.Errorf("conn: %q is neither %q nor %q", f[3], connLabel(true), connLabel(false)))
	}
	if !slices.Contains([]string{"l4", "http", "udp"}, row.c.mode) {
		errs = append(errs, fmt.Errorf("mode: %q is not l4, http or udp", f[2]))
	}
	row.flows = int(num(4))
	rate, err := strconv.ParseFloat(f[6], 64)
	if err != nil {
		errs = append(errs, fmt.Errorf("req_per_s: %q is not a number", f[6]))
	}
	row.s = sample{rate: rate, ops: num(7), p50: time.Duration(num(8)), p99: time.Duration(num(9)),
		errors: int(num(10)), wall: time.Duration(num(11)), proxyCPU: time.Duration(num(12)),
		backendCPU: time.Duration(num(13)), loadCPU: time.Duration(num(14)), rss: num(15)}
	if len(errs) > 0 {
		return sampleRow{}, errs[0]
	}
	return row, nil
}

// poolRows gathers the rows of many runs into one table's input: for
// each cell, the rounds (run, round) that every target of the cell ran,
// in file order, so that sample i of each target comes from the same
// round and pairedRatios still pairs like with like. left counts the
// rounds left out for a missing target.
func poolRows(rows []sampleRow) (cells []cell, res map[cell]map[string][]sample, runs, left int, err error) {
	type key struct {
		run   string
		round int
	}
	targets := map[cell][]string{}
	byKey := map[cell]map[key]map[string]sample{}
	var order = map[cell][]key{}
	seenRun := map[string]bool{}
	flowsOf := -1
	for _, r := range rows {
		if r.c.mode == "udp" {
			if flowsOf >= 0 && r.flows != flowsOf {
				return nil, nil, 0, 0, fmt.Errorf("udp rounds of %d and %d flows cannot be pooled", flowsOf, r.flows)
			}
			flowsOf = r.flows
		}
		seenRun[r.run] = true
		if byKey[r.c] == nil {
			byKey[r.c] = map[key]map[string]sample{}
			cells = append(cells, r.c)
		}
		k := key{r.run, r.round}
		if byKey[r.c][k] == nil {
			byKey[r.c][k] = map[string]sample{}
			order[r.c] = append(order[r.c], k)
		}
		byKey[r.c][k][r.target] = r.s
		if !slices.Contains(targets[r.c], r.target) {
			targets[r.c] = append(targets[r.c], r.target)
		}
	}
	if flowsOf >= 0 {
		*flows = flowsOf // the udp cell's label
	}
	res = map[cell]map[string][]sample{}
	for _, c := range cells {
		res[c] = map[string][]sample{}
		for _, k := range order[c] {
			if len(byKey[c][k]) < len(targets[c]) {
				left++
				continue
			}
			for t, s := range byKey[c][k] {
				res[c][t] = append(res[c][t], s)
			}
		}
	}
	return cells, res, len(seenRun), left, nil
}

// poolRuns prints the table of every round in the samples files named.
func poolRuns(w io.Writer, names []string) error {
	var rows []sampleRow
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		rs, err := readSamples(name, f)
		f.Close()
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	if len(rows) == 0 {
		return fmt.Errorf("no rounds in %s", strings.Join(names, ", "))
	}
	cells, res, runs, left, err := poolRows(rows)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("pooled: the rounds of %d runs (%s), paired within each round", runs, strings.Join(names, ", "))
	if left > 0 {
		header += fmt.Sprintf("; %d rounds left out for a missing target", left)
	}
	printTable(w, header, cells, res)
	return nil
}
