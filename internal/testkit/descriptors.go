package testkit

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// InChild runs the calling test alone in a child process (the test binary
// again, with env=1 set) and reports whether this is that child: the
// parent returns false once the child passed, fails t with the child's
// output when it did not, and skips when the child skipped. For tests that
// change process-wide state, such as the descriptor limit.
func InChild(t *testing.T, env string) bool {
	t.Helper()
	if os.Getenv(env) != "" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil && strings.Contains(string(out), "--- SKIP"):
		t.Skipf("child skipped:\n%s", out)
	case err != nil || !strings.Contains(string(out), "--- PASS"):
		t.Fatalf("child: %v\n%s", err, out)
	}
	return false
}

// Descriptors holds duplicates of descriptor 0 that use up the process's
// descriptor limit (ExhaustDescriptors).
type Descriptors struct{ fds []int }

// ExhaustDescriptors lowers RLIMIT_NOFILE's soft limit to limit (at most
// the hard one) and opens descriptors until open(2)-like calls fail with
// EMFILE; cleanup closes them. It skips t when more than 65536 would be
// needed. Only for a test running in a child process (InChild): the limit
// stays lowered for the rest of the process.
func ExhaustDescriptors(t *testing.T, limit uint64) *Descriptors {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = min(limit, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("setting RLIMIT_NOFILE to %d: %v", lim.Cur, err)
	}
	d := &Descriptors{}
	t.Cleanup(func() { d.Free(len(d.fds)) })
	for {
		fd, err := syscall.Dup(0)
		if err != nil {
			break
		}
		d.fds = append(d.fds, fd)
		if len(d.fds) > 1<<16 {
			t.Skip("descriptor limit too high to fill")
		}
	}
	if len(d.fds) == 0 {
		t.Fatal("no descriptor could be opened to use up the limit")
	}
	return d
}

// Free closes n of the held descriptors (all that are left, at most).
func (d *Descriptors) Free(n int) {
	for ; n > 0 && len(d.fds) > 0; n-- {
		syscall.Close(d.fds[len(d.fds)-1])
		d.fds = d.fds[:len(d.fds)-1]
	}
}

// OpenFDs counts this process's open descriptors (/proc/self/fd), for
// tests that check that what they opened was closed; it skips t without
// /proc.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}
