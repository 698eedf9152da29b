package proxy

import (
	"runtime"
	"testing"
)

// tuneProcs gives a process pinned to one CPU a second P, leaves more
// alone, and keeps what the environment set.
func TestTuneProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(1)
	tuneProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs {
		t.Errorf("GOMAXPROCS after tuneProcs from 1 = %d, want %d", got, minProcs)
	}
	runtime.GOMAXPROCS(minProcs + 2)
	tuneProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs+2 {
		t.Errorf("GOMAXPROCS after tuneProcs from %d = %d, want it kept", minProcs+2, got)
	}
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	tuneProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS after tuneProcs with GOMAXPROCS=1 in the environment = %d, want 1", got)
	}
}
