package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

func TestMain(m *testing.M) { os.Exit(lab.Main(m)) }

// scale is how long and how often each scenario runs.
type scale struct {
	name       string
	soak       time.Duration // per loss soak phase
	crashes    int           // crash cycles
	partitions int           // partition/heal cycles (half with a ping node)
	oneWay     time.Duration // how long the one-way loss lasts
	flood      time.Duration // hostile traffic
	reloads    int           // churn: reloads and real disable/enable cycles each
	pressure   time.Duration // CPU pressure, per realtime setting
}

var scales = map[string]scale{
	"short": {name: "short", soak: 6 * time.Second, crashes: 4, partitions: 6, oneWay: 4 * time.Second, flood: 5 * time.Second, reloads: 5, pressure: 10 * time.Second},
	"full":  {name: "full", soak: 10 * time.Minute, crashes: 100, partitions: 50, oneWay: time.Minute, flood: time.Minute, reloads: 100, pressure: 2 * time.Minute},
}

// setup returns the scale and the report, or skips.
func setup(t *testing.T) (scale, *report) {
	t.Helper()
	mode := os.Getenv("HAPAIR_CHAOS")
	sc, ok := scales[mode]
	if !ok {
		t.Skipf("chaos suite: set HAPAIR_CHAOS=short or full to run it (got %q); `make chaos-short`, `make chaos`", mode)
	}
	if v := os.Getenv("HAPAIR_CHAOS_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxSoak {
			t.Fatalf("chaos: HAPAIR_CHAOS_SOAK=%q: want a duration in (0, %v]", v, maxSoak)
		}
		sc.soak = d
	}
	return sc, theReport(t, sc)
}

// setupPair is setup, then a pair running with o: where the scenarios on
// one pair begin (the pair keeps o, as p.o).
func setupPair(t *testing.T, o pairOpts) (scale, *report, *pair) {
	t.Helper()
	sc, r := setup(t)
	return sc, r, newPair(t, o)
}

// maxSoak bounds HAPAIR_CHAOS_SOAK (the probe's own bound, probe.MaxDuration).
const maxSoak = 10 * time.Minute

// report collects one table row per figure and writes chaos.md.
type report struct {
	mu   sync.Mutex
	dir  string
	mode string
	rows [][]string
}

var (
	reportOnce sync.Once
	rep        *report
)

func theReport(t *testing.T, sc scale) *report {
	reportOnce.Do(func() {
		dir := os.Getenv("HAPAIR_CHAOS_OUT")
		if dir == "" {
			d, err := os.MkdirTemp("", "hapair-chaos-")
			if err != nil {
				t.Fatalf("chaos: making output dir: %v", err)
			}
			dir = d
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("chaos: making output dir %s: %v", dir, err)
		}
		rep = &report{dir: dir, mode: sc.name}
	})
	return rep
}

// row adds a table row: scenario, system, setting, figure, value, verdict.
func (r *report) row(cells ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, cells)
	r.writeLocked()
}

// log writes a raw log file beside the table.
func (r *report) log(t *testing.T, name, content string) {
	t.Helper()
	path := filepath.Join(r.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Errorf("chaos: writing %s: %v", path, err)
	}
}

func (r *report) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | system | setting | figure | value | verdict |\n|---|---|---|---|---|---|\n")
	for _, row := range r.rows {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

func (r *report) writeLocked() {
	head := fmt.Sprintf("# hapair chaos (%s run, %s)\n\nRaw logs beside this file in %s.\n\n", r.mode, time.Now().UTC().Format(time.RFC3339), r.dir)
	os.WriteFile(filepath.Join(r.dir, "chaos.md"), []byte(head+r.table()), 0o644)
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("min %s / median %s / p99 %s / max %s (n=%d)", r(s[0]), r(quantile(s, 0.5)), r(quantile(s, 0.99)), r(s[len(s)-1]), len(s))
}

// quantile is the p-quantile (0..1) of sorted, which is not empty.
func quantile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// median is the median of ds as quantiles prints it (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return quantile(s, 0.5)
}
