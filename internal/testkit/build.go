package testkit

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// BuildBinary builds the main package in the test's directory as name in a
// temporary directory and returns its path, for tests that run the real
// binary as an operator would. It skips with -short (a build takes
// seconds) and uses the go command of the running toolchain.
func BuildBinary(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}
