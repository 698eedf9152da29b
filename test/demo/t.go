package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// demoT is the lab.T of a program: Fatal/Fatalf/Skip record the failure and
// panic with a failure value that main recovers, after which main runs the
// cleanups (last registered first) and exits 1. Like testing's, those calls
// must come from the main goroutine. Logs go to a buffer (and to stderr with
// -v); after a failure they are written to a file for the user to read.
type demoT struct {
	verbose io.Writer // nil unless -v

	// interrupted is the signal that stopped the demo (0: none). From then
	// on the main goroutine, racing the cleanup, prints nothing more.
	interrupted atomic.Int32

	mu       sync.Mutex
	log      bytes.Buffer
	failed   bool
	cleanups []func()
	cleaning sync.Mutex // held while the cleanups run, so a signal's cleanup and main's do not interleave
}

// failure is what Fatal, Fatalf and Skip panic with.
type failure struct{ msg string }

func (t *demoT) Helper() {}

func (t *demoT) Logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	t.mu.Lock()
	t.log.WriteString(line)
	t.mu.Unlock()
	if t.verbose != nil {
		io.WriteString(t.verbose, line)
	}
}

// Errorf records a failure and goes on, as in a test; the demo then exits 1.
func (t *demoT) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	t.Logf("error: %s", msg)
	fmt.Fprintf(os.Stderr, "demo: %s\n", msg)
}

func (t *demoT) Fatal(args ...any)                 { t.fail(fmt.Sprint(args...)) }
func (t *demoT) Fatalf(format string, args ...any) { t.fail(fmt.Sprintf(format, args...)) }

// Skip is a failure too: the demo cannot skip itself.
func (t *demoT) Skip(args ...any) { t.fail(fmt.Sprint(args...)) }

func (t *demoT) fail(msg string) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	t.Logf("fatal: %s", msg)
	panic(failure{msg})
}

func (t *demoT) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *demoT) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

// TempDir makes a fresh directory removed at cleanup; a failure to make one
// is fatal.
func (t *demoT) TempDir() string {
	dir, err := os.MkdirTemp("", "hapair-demo-")
	if err != nil {
		t.Fatalf("making a temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// runCleanups runs every registered cleanup, last first, each once, also
// those a cleanup registers. A cleanup that calls Fatal is recorded and the
// next one runs.
func (t *demoT) runCleanups() {
	t.cleaning.Lock()
	defer t.cleaning.Unlock()
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		t.runOne(f)
	}
}

func (t *demoT) runOne(f func()) {
	defer func() {
		if r := recover(); r != nil {
			if fl, ok := r.(failure); ok {
				fmt.Fprintf(os.Stderr, "demo: cleanup: %s\n", fl.msg)
				return
			}
			panic(r)
		}
	}()
	f()
}

// saveLog writes the collected log to a file and returns its path, for the
// user to read after a failure.
func (t *demoT) saveLog() (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.CreateTemp("", "hapair-demo-*.log")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(t.log.Bytes()); err != nil {
		return "", err
	}
	return f.Name(), nil
}
