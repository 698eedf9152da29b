package lab

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Every testing.TB is a T, so tests pass *testing.T and *testing.B as before.
var _ T = testing.TB(nil)

// fatalT is a T whose Fatalf records the message instead of ending the test.
type fatalT struct {
	testing.TB
	fatal string
}

func (f *fatalT) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }

func TestConsistently(t *testing.T) {
	ft := &fatalT{TB: t}
	calls := 0
	start := time.Now()
	Consistently(ft, 30*time.Millisecond, 5*time.Millisecond, "holds", func() error { calls++; return nil })
	if el := time.Since(start); ft.fatal != "" || el < 30*time.Millisecond || calls < 2 {
		t.Errorf("a condition that always holds: fatal %q, returned after %v and %d calls; want no failure after 30ms", ft.fatal, el, calls)
	}
	calls = 0
	Consistently(ft, time.Minute, time.Millisecond, "lb2 alone holds the VIP", func() error {
		if calls++; calls == 3 {
			return errors.New("held by lb1")
		}
		return nil
	})
	if calls != 3 || !strings.HasPrefix(ft.fatal, "lb2 alone holds the VIP: after ") || !strings.HasSuffix(ft.fatal, ": held by lb1") {
		t.Errorf("a condition failing at call 3: %d calls, fatal %q; want 3 calls and the subject and error", calls, ft.fatal)
	}
}
