package chaos

import (
	"path/filepath"
	"testing"
)

// TestZZTable runs last (go test runs tests in source order, files sorted
// by name) and prints the table every scenario filled.
func TestZZTable(t *testing.T) {
	_, r := setup(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writeLocked()
	t.Logf("chaos table (%s), also in %s:\n\n%s", r.mode, filepath.Join(r.dir, "chaos.md"), r.table())
}
