package main

import (
	"fmt"
	"io"
	"math"
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
// appended. Each run starts with a line "#run", its id and its settings
// (runSettings), which -pool requires to be the same in every run it
// pools; other lines starting with # are comments.
var sampleColumns = []string{"run", "round", "mode", "conn", "flows", "target",
	"req_per_s", "ops", "p50_ns", "p99_ns", "errors", "wall_ns", "proxy_cpu_ns", "backend_cpu_ns", "load_cpu_ns", "rss_bytes"}

// sampleRow is one line of a samples file.
type sampleRow struct {
	run    string // the run's id (its start and PID): rounds pair only within a run
	round  int    // from 1
	c      cell
	flows  int
	target string
	s      sample
	where  string // file:line, for errors that name two rows
}

// maxSampleInt bounds every whole number in a samples file: 2^53, so it
// is exact as a float64 and a median's sum of two cannot overflow.
const maxSampleInt = 1 << 53

// runSettings are the settings that make rounds of different runs
// comparable: load duration, wrk's connections and threads, pinning and
// the proxies' cores, hapair's GOGC and whether it was profiled. Rounds
// and -only may differ between pooled runs.
func runSettings() string {
	gc := *gogc
	if gc == "" {
		gc = "hapair's"
	}
	return fmt.Sprintf("d=%v c=%d t=%d pinned=%t cores=%d gogc=%s profiled=%t", *duration, *conns, *threads, pinned(), proxyCPUs(),
		gc, *profileFor != "" || *memProfile != "")
}

// sampleWriter appends rows to a samples file; a nil one writes nothing.
type sampleWriter struct {
	f   *os.File
	run string
}

// openSamples opens path for appending (creating it with a header line)
// and writes the run's "#run" line, or returns nil for an empty path.
// The run id is the start time to the nanosecond and the process ID, so
// two runs never share one.
func openSamples(path string, start time.Time, settings string) (*sampleWriter, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("samples file: %w", err)
	}
	w := &sampleWriter{f: f, run: fmt.Sprintf("%s/%d", start.UTC().Format(time.RFC3339Nano), os.Getpid())}
	head := ""
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		head = fmt.Sprintf("# %s\n", strings.Join(sampleColumns, "\t"))
	}
	if _, err := fmt.Fprintf(f, "%s#run\t%s\t%s\n", head, w.run, settings); err != nil {
		f.Close()
		return nil, fmt.Errorf("samples file: %w", err)
	}
	return w, nil
}

func (w *sampleWriter) write(round int, c cell, target string, s sample) error {
	if w == nil {
		return nil
	}
	_, err := fmt.Fprintf(w.f, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
		w.run, round, c.mode, connLabel(c.keepAlive), *flows, target,
		strconv.FormatFloat(s.rate, 'g', -1, 64), s.ops, s.p50, s.p99, s.errors, s.wall, s.proxyCPU, s.backendCPU, s.loadCPU, s.rss)
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

// samplesFile is what readSamples found in one file: the rows and each
// run's settings, by run id.
type samplesFile struct {
	rows     []sampleRow
	settings map[string]string
}

// readSamples parses a samples file; an error names the file, the line
// and the column. A file whose last line has no newline is refused: a run
// cut short while writing it may have left a number cut short too.
func readSamples(name string, r io.Reader) (samplesFile, error) {
	out := samplesFile{settings: map[string]string{}}
	data, err := io.ReadAll(r)
	if err != nil {
		return out, fmt.Errorf("%s: %w", name, err)
	}
	lines := strings.Split(string(data), "\n")
	if last := lines[len(lines)-1]; last != "" {
		return out, fmt.Errorf("%s:%d: the last line has no newline (a run cut short?)", name, len(lines))
	}
	for i, text := range lines[:len(lines)-1] {
		text = strings.TrimSuffix(text, "\r")
		if rest, ok := strings.CutPrefix(text, "#run\t"); ok {
			id, settings, _ := strings.Cut(rest, "\t")
			if id == "" {
				return out, fmt.Errorf("%s:%d: #run line without a run id", name, i+1)
			}
			if _, dup := out.settings[id]; dup {
				return out, fmt.Errorf("%s:%d: run %q starts a second time", name, i+1, id)
			}
			out.settings[id] = settings
			continue
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		row, err := parseSampleRow(text)
		if err != nil {
			return out, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		row.where = fmt.Sprintf("%s:%d", name, i+1)
		if _, ok := out.settings[row.run]; !ok {
			return out, fmt.Errorf("%s:%d: run %q has no #run line before it", name, i+1, row.run)
		}
		out.rows = append(out.rows, row)
	}
	return out, nil
}

func parseSampleRow(text string) (sampleRow, error) {
	f := strings.Split(text, "\t")
	if len(f) != len(sampleColumns) {
		return sampleRow{}, fmt.Errorf("%d fields, want %d (%s)", len(f), len(sampleColumns), strings.Join(sampleColumns, ", "))
	}
	var row sampleRow
	var errs []error
	// Every number is a count, a rate or a duration: finite and not
	// negative.
	num := func(col int) int64 {
		v, err := strconv.ParseInt(f[col], 10, 64)
		if err != nil || v < 0 || v > maxSampleInt {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number from 0 to 2^53", sampleColumns[col], f[col]))
		}
		return v
	}
	row.run, row.target = f[0], f[5]
	if row.run == "" {
		errs = append(errs, fmt.Errorf("run: empty"))
	}
	if row.round = int(num(1)); row.round < 1 {
		errs = append(errs, fmt.Errorf("round: %q, rounds count from 1", f[1]))
	}
	if !slices.Contains(targetNames, row.target) {
		errs = append(errs, fmt.Errorf("target: %q is not one of %s", row.target, strings.Join(targetNames, ", ")))
	}
	row.c.mode = f[2]
	if !slices.Contains([]string{"l4", "http", "udp"}, row.c.mode) {
		errs = append(errs, fmt.Errorf("mode: %q is not l4, http or udp", f[2]))
	}
	switch f[3] {
	case connLabel(true):
		row.c.keepAlive = true
	case connLabel(false):
	default:
		errs = append(errs, fmt.Errorf("conn: %q is neither %q nor %q", f[3], connLabel(true), connLabel(false)))
	}
	if row.c.mode == "udp" && !row.c.keepAlive {
		errs = append(errs, fmt.Errorf("conn: %q, the udp cell is written as %q", f[3], connLabel(true)))
	}
	row.flows = int(num(4))
	rate, err := strconv.ParseFloat(f[6], 64)
	if err != nil || math.IsNaN(rate) || rate < 0 || rate > maxSampleInt {
		errs = append(errs, fmt.Errorf("req_per_s: %q is not a number from 0 to 2^53", f[6]))
	}
	row.s = sample{rate: rate, ops: num(7), p50: time.Duration(num(8)), p99: time.Duration(num(9)),
		errors: int(num(10)), wall: time.Duration(num(11)), proxyCPU: time.Duration(num(12)),
		backendCPU: time.Duration(num(13)), loadCPU: time.Duration(num(14)), rss: num(15), run: row.run}
	if len(errs) > 0 {
		return sampleRow{}, errs[0]
	}
	return row, nil
}

// poolRows gathers the rows of many runs into one table's input: for
// each cell, one entry per round (run, round) in file order for every
// target of the cell, a placeholder (missing) where the target has no row,
// so that sample i of each target comes from the same round and
// pairedRatios pairs like with like, each pair over the rounds both had.
func poolRows(rows []sampleRow) (cells []cell, res map[cell]map[string][]sample, err error) {
	type key struct {
		run   string
		round int
	}
	targets := map[cell][]string{}
	byKey := map[cell]map[key]map[string]sampleRow{}
	order := map[cell][]key{}
	flowsOf, flowsAt := -1, ""
	for _, r := range rows {
		if r.c.mode == "udp" {
			if flowsOf >= 0 && r.flows != flowsOf {
				return nil, nil, fmt.Errorf("%s: udp rounds of %d flows cannot be pooled with those of %d (%s)", r.where, r.flows, flowsOf, flowsAt)
			}
			flowsOf, flowsAt = r.flows, r.where
		}
		if byKey[r.c] == nil {
			byKey[r.c] = map[key]map[string]sampleRow{}
			cells = append(cells, r.c)
		}
		k := key{r.run, r.round}
		if byKey[r.c][k] == nil {
			byKey[r.c][k] = map[string]sampleRow{}
			order[r.c] = append(order[r.c], k)
		}
		if first, dup := byKey[r.c][k][r.target]; dup {
			return nil, nil, fmt.Errorf("%s: a second row for %s in %s, round %d of run %s (first at %s)",
				r.where, r.target, r.c, r.round, r.run, first.where)
		}
		byKey[r.c][k][r.target] = r
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
			for _, t := range targets[c] {
				s := sample{run: k.run, missing: true}
				if r, ok := byKey[c][k][t]; ok {
					s = r.s
				}
				res[c][t] = append(res[c][t], s)
			}
		}
	}
	return cells, res, nil
}

// poolRuns prints the tables of every round in the samples files named
// (empty names, as a trailing comma leaves, are skipped). The runs must
// share their settings (runSettings).
func poolRuns(w io.Writer, names []string) error {
	var rows []sampleRow
	settings := map[string]string{}
	var used []string
	for _, name := range names {
		if name == "" {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		sf, err := readSamples(name, f)
		f.Close()
		if err != nil {
			return err
		}
		for id, set := range sf.settings {
			if _, dup := settings[id]; dup {
				return fmt.Errorf("%s: run %q is in an earlier file too (the same file named twice?)", name, id)
			}
			settings[id] = set
		}
		rows = append(rows, sf.rows...)
		used = append(used, name)
	}
	if len(used) == 0 {
		return fmt.Errorf("-pool names no samples file")
	}
	if len(rows) == 0 {
		return fmt.Errorf("no rounds in %s", strings.Join(used, ", "))
	}
	runs := map[string]bool{}
	var set0, at0 string
	for _, r := range rows {
		if runs[r.run] {
			continue
		}
		runs[r.run] = true
		if len(runs) == 1 {
			set0, at0 = settings[r.run], r.where
		} else if settings[r.run] != set0 {
			return fmt.Errorf("%s: run %s was measured with %s, %s's with %s: not pooled", r.where, r.run, settings[r.run], at0, set0)
		}
	}
	cells, res, err := poolRows(rows)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("pooled: the rounds of %d run(s) from %s, paired within each round; each run %s", len(runs), strings.Join(used, ", "), set0)
	printTable(w, header, cells, res)
	return nil
}
