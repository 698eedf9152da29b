package generation

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

func TestNext(t *testing.T) {
	tests := []struct {
		name    string
		content *string // nil: no file
		want    uint64
		wantErr string
	}{
		{"no file", nil, 1, ""},
		{"existing", ptr("41\n"), 42, ""},
		{"no newline", ptr("7"), 8, ""},
		{"zero", ptr("0\n"), 1, ""},
		{"empty", ptr(""), 0, `is corrupt: content "", want a decimal number`},
		{"garbage", ptr("abc\n"), 0, `is corrupt: content "abc\n", want a decimal number; write a number higher`},
		{"negative", ptr("-3\n"), 0, `content "-3\n"`},
		{"spaces", ptr(" 5\n"), 0, `content " 5\n"`},
		{"overflow", ptr("18446744073709551616\n"), 0, `content "18446744073709551616\n"`},
		{"max", ptr("18446744073709551615\n"), 0, "18446744073709551615 is the largest generation"},
		{"huge file", ptr(strings.Repeat("9", 1000)), 0, "is corrupt: content starts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := NextAt(dir, epoch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("Next(%q) = %d, %v, want error naming %s containing %q", dir, got, err, path, tt.wantErr)
				}
				after, rerr := os.ReadFile(path)
				if rerr != nil || string(after) != *tt.content {
					t.Errorf("after failed Next: file = %q, %v, want it untouched %q", after, rerr, *tt.content)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Next(%q) = %d, %v, want %d, nil", dir, got, err, tt.want)
			}
			stored, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSpace(string(stored)); want != strconv.FormatUint(tt.want, 10) {
				t.Errorf("stored generation = %q, want %d", stored, tt.want)
			}
			assertNoTempFiles(t, dir)
		})
	}
}

// epoch is a clock reading that never exceeds a stored generation, so the
// tests see plain counting.
var epoch = time.Unix(0, 0)

// TestNextSeededFromClock: a node whose state directory was lost starts
// above every generation it used before (Heartbeat's hbgenmethod time), and
// the file keeps the number rising when the clock goes back or several
// starts fall in one second (issue 9 case 4).
func TestNextSeededFromClock(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	steps := []struct {
		now  time.Time
		want uint64
	}{
		{t0, uint64(t0.Unix())},
		{t0, uint64(t0.Unix()) + 1},                   // same second
		{t0.Add(-time.Hour), uint64(t0.Unix()) + 2},   // clock stepped back
		{t0.Add(time.Minute), uint64(t0.Unix()) + 60}, // later start
	}
	for i, st := range steps {
		got, err := NextAt(dir, st.now)
		if err != nil || got != st.want {
			t.Fatalf("start %d: NextAt(%v) = %d, %v, want %d", i, st.now, got, err, st.want)
		}
	}
	// The state directory is lost: the clock alone still beats every
	// generation used before.
	lost := t.TempDir()
	got, err := NextAt(lost, t0.Add(2*time.Minute))
	if err != nil || got <= uint64(t0.Unix())+60 {
		t.Errorf("after losing the state directory: NextAt = %d, %v, want above %d", got, err, uint64(t0.Unix())+60)
	}
}

// TestNextRefusesFIFO: a FIFO at the generation file is refused at once,
// naming the path and what it is (issue 9 case 11).
func TestNextRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	path := testkit.Mkfifo(t, dir, FileName)
	err := testkit.Returns(t, "NextAt(fifo)", func() error { _, err := NextAt(dir, epoch); return err })
	if want := "generation: reading: " + path + ": is a named pipe (FIFO), want a regular file"; err == nil || err.Error() != want {
		t.Errorf("NextAt(fifo) = %v, want %q", err, want)
	}
}

func TestNextIncrementsEveryStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "hapair") // created by Next
	for want := uint64(1); want <= 5; want++ {
		got, err := NextAt(dir, epoch)
		if err != nil || got != want {
			t.Fatalf("Next() call %d = %d, %v, want %d", want, got, err, want)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode = %v, %v, want 0700", fi.Mode().Perm(), err)
	}
	assertNoTempFiles(t, dir)
}

func TestNextUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; use a path under a file instead.
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Next(filepath.Join(f, "state"))
		if err == nil || !strings.Contains(err.Error(), "generation: ") || !strings.Contains(err.Error(), f) {
			t.Errorf("Next(under a file) error = %v, want one naming %s", err, f)
		}
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	_, err := Next(dir)
	if err == nil || !strings.Contains(err.Error(), "generation: writing") {
		t.Errorf("Next(read-only dir) error = %v, want generation: writing ...", err)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != FileName {
			t.Errorf("state directory holds %q, want only %q", e.Name(), FileName)
		}
	}
}

func ptr(s string) *string { return &s }
