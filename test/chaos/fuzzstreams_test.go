package chaos

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

// fakeGo is a go command for fuzzstreams.sh: `test ... -fuzz=^T$ ...`
// records its arguments and niceness in $FAKE/T.args, prints go test
// -fuzz's progress lines and exits 0, except that FuzzFail fails as go
// test does, FuzzPair waits (bounded) until FuzzPair2 has started too (the
// two run only if the streams run side by side) and FuzzHang runs a
// sleep until it is killed, its PIDs in $FAKE/FuzzHang.pids.
const fakeGo = `#!/usr/bin/env bash
t=$(printf '%s\n' "$@" | sed -n 's/^-fuzz=^\(.*\)\$$/\1/p')
echo "$* nice=$(nice)" > "$FAKE/$t.args"
case $t in
FuzzPair|FuzzPair2)
	for i in $(seq 1000); do [ -e "$FAKE/FuzzPair.args" ] && [ -e "$FAKE/FuzzPair2.args" ] && break; sleep 0.01; done
	[ -e "$FAKE/FuzzPair.args" ] && [ -e "$FAKE/FuzzPair2.args" ] || { echo "--- FAIL: $t: ran alone"; exit 1; } ;;
FuzzHang)
	sleep 60 & echo "$$ $!" > "$FAKE/FuzzHang.pids"; wait; exit 1 ;;
esac
echo "fuzz: elapsed: 0s, gathering baseline coverage: 3/3 completed, now fuzzing with 1 workers"
if [ "$t" = FuzzFail ]; then
	printf -- '--- FAIL: FuzzFail (0.01s)\n    Failing input written to testdata/fuzz/FuzzFail/abc\nFAIL\nexit status 1\n'
	exit 1
fi
echo "fuzz: elapsed: 1s, execs: ${#t}00 (100/sec), new interesting: ${#t} (total: 9)"
echo PASS
`

func fuzzStreams(t *testing.T, list string) (cmd *exec.Cmd, out, fake string, stdout *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	fake, out = filepath.Join(dir, "fake"), filepath.Join(dir, "out")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	gobin := filepath.Join(dir, "go")
	if err := os.WriteFile(gobin, []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("bash", "fuzzstreams.sh", out, "5s")
	cmd.Env = append(os.Environ(), "GO="+gobin, "FAKE="+fake)
	cmd.Stdin = strings.NewReader(list)
	stdout = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stdout
	return cmd, out, fake, stdout
}

// TestFuzzStreams: every target runs once, two at a time, at nice 19 with
// one worker; fuzz.log holds them in list order; a failed one fails the
// whole.
func TestFuzzStreams(t *testing.T) {
	list := "p/a FuzzPair\np/a FuzzPair2\np/b FuzzOne\np/b FuzzFail\np/c FuzzLast\n"
	cmd, out, fake, stdout := fuzzStreams(t, list)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("fuzzstreams.sh: %v, want exit status 1 (FuzzFail failed)\n%s", err, stdout)
	}
	self, err := exec.Command("nice").Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(self)))
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		pkg, target, _ := strings.Cut(l, " ")
		args, err := os.ReadFile(filepath.Join(fake, target+".args"))
		if err != nil {
			t.Fatalf("%s did not run: %v\n%s", target, err, stdout)
		}
		want := "test -run=^$ -fuzz=^" + target + "$ -fuzztime=5s -parallel=1 " + pkg + " nice=" + strconv.Itoa(min(n+19, 19))
		if strings.TrimSpace(string(args)) != want {
			t.Errorf("%s ran as\n%s\nwant\n%s", target, args, want)
		}
	}
	log, err := os.ReadFile(filepath.Join(out, "fuzz.log"))
	if err != nil {
		t.Fatal(err)
	}
	var heads []string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.HasPrefix(l, "fuzz p/") {
			heads = append(heads, strings.TrimPrefix(l, "fuzz "))
		}
	}
	if got := strings.Join(heads, "\n") + "\n"; got != list {
		t.Errorf("fuzz.log heads:\n%swant\n%s", got, list)
	}
	rows, err := exec.Command("bash", "fuzzsummary.sh", filepath.Join(out, "fuzz.log"), "5s").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| p/a | FuzzPair | 800 | 8 | ok |", "| p/b | FuzzFail | 0 (failed after replaying the corpus: 3/3) | - | FAIL: testdata/fuzz/FuzzFail/abc |", "| p/c | FuzzLast | 800 | 8 | ok |"} {
		if !strings.Contains(string(rows), want) {
			t.Errorf("summary has no row %q:\n%s", want, rows)
		}
	}
}

// TestFuzzStreamsStop: SIGTERM stops every stream, down to the fuzzers'
// own children, and the script returns only once they are gone.
func TestFuzzStreamsStop(t *testing.T) {
	cmd, _, fake, stdout := fuzzStreams(t, "p/a FuzzHang\np/b FuzzHang2\n")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var pids []int
	t.Cleanup(func() {
		// Only when the test failed is anything of these left.
		cmd.Process.Kill()
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	testkit.WaitFor(t, "FuzzHang to start", func() bool {
		b, err := os.ReadFile(filepath.Join(fake, "FuzzHang.pids"))
		f := strings.Fields(string(b))
		if err != nil || len(f) != 2 {
			return false
		}
		for _, s := range f {
			p, _ := strconv.Atoi(s)
			pids = append(pids, p)
		}
		return true
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(testkit.WaitTimeout):
		t.Fatalf("fuzzstreams.sh still running %v after SIGTERM\n%s", testkit.WaitTimeout, stdout)
	}
	for _, p := range pids {
		// The script waited for its streams; a fuzzer's own child is
		// reparented and may take a moment to be reaped.
		testkit.WaitFor(t, "pid "+strconv.Itoa(p)+" to end", func() bool { return syscall.Kill(p, 0) != nil })
	}
}

// TestFuzzSummaryRows: what a row says for each way a target can end (the
// logs are go test -fuzz's own lines).
func TestFuzzSummaryRows(t *testing.T) {
	log := `fuzz p FuzzRan
fuzz: elapsed: 0s, gathering baseline coverage: 0/11 completed
fuzz: elapsed: 0s, gathering baseline coverage: 11/11 completed, now fuzzing with 1 workers
fuzz: elapsed: 3s, execs: 5000 (1666/sec), new interesting: 2 (total: 13)
PASS
fuzz p FuzzSlow
fuzz: elapsed: 0s, gathering baseline coverage: 0/269 completed
fuzz: elapsed: 3s, gathering baseline coverage: 120/269 completed
PASS
fuzz p FuzzFound
fuzz: elapsed: 0s, gathering baseline coverage: 0/269 completed
fuzz: elapsed: 2s, gathering baseline coverage: 269/269 completed, now fuzzing with 1 workers
fuzz: minimizing 219-byte failing input file
--- FAIL: FuzzFound (2.40s)
    Failing input written to testdata/fuzz/FuzzFound/aca7a9e32c32ce08
FAIL
fuzz p FuzzCorpus
fuzz: elapsed: 0s, gathering baseline coverage: 0/20 completed
--- FAIL: FuzzCorpus (0.10s)
FAIL
`
	path := filepath.Join(t.TempDir(), "fuzz.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "fuzzsummary.sh", path, "10m", "two streams").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Fuzzing (FUZZTIME=10m per target, two streams)",
		"| p | FuzzRan | 5000 | 2 | ok |",
		"| p | FuzzSlow | 0 (time ran out replaying the corpus: 120/269) | - | ok |",
		"| p | FuzzFound | 0 (failed after replaying the corpus: 269/269) | - | FAIL: testdata/fuzz/FuzzFound/aca7a9e32c32ce08 |",
		"| p | FuzzCorpus | 0 (failed replaying the corpus: 0/20) | - | FAIL |",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
}
