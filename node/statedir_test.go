package node

import (
	"path/filepath"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
)

// TestCheckStateDir: a state_dir that is a file, or under one, is what
// had's start refused ("mkdir ...: not a directory") after the check had
// passed it; one that does not exist yet is fine (had creates it).
func TestCheckStateDir(t *testing.T) {
	dir := t.TempDir()
	file := testkit.WriteFile(t, dir, "authkeys", "", 0o600)
	tests := append([]pathCase{
		{dir, ""},
		{filepath.Join(dir, "a", "b"), ""},
		{file, "state directory " + file + ": " + file + " is not a directory (mode -rw-------)"},
		{filepath.Join(file, "state"), "state directory " + file + "/state: " + file + " is not a directory (mode -rw-------)"},
	}, pseudoFSCases(t, dir, "state directory", "")...)
	for _, tt := range tests {
		err := checkStateDir(tt.path)
		if got := errString(err); got != tt.want {
			t.Errorf("checkStateDir(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
