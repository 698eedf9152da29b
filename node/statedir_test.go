package node

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCheckStateDir: a state_dir that is a file, or under one, is what
// had's start refused ("mkdir ...: not a directory") after the check had
// passed it; one that does not exist yet is fine (had creates it).
func TestCheckStateDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "authkeys")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{dir, ""},
		{filepath.Join(dir, "a", "b"), ""},
		{file, "state directory " + file + ": " + file + " is not a directory (mode -rw-------)"},
		{filepath.Join(file, "state"), "state directory " + file + "/state: " + file + " is not a directory (mode -rw-------)"},
	}
	// Pseudo file systems by their statfs magic, whatever the path: sysfs
	// through a path that is not under /sys.
	link := filepath.Join(dir, "sys")
	if err := os.Symlink("/sys", link); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, []struct{ path, want string }{
		{"/proc/hapair", "state directory /proc/hapair: /proc is on proc, a kernel pseudo file system, not storage"},
		{"/proc/self/hapair/state", "state directory /proc/self/hapair/state: /proc/self is on proc, a kernel pseudo file system, not storage"},
		{filepath.Join(link, "hapair"), "state directory " + link + "/hapair: " + link + " is on sysfs, a kernel pseudo file system, not storage"},
	}...)
	if devIsDevtmpfs(t) {
		tests = append(tests, struct{ path, want string }{"/dev/hapair", "state directory /dev/hapair: /dev is on devtmpfs, a kernel pseudo file system, not storage"})
	} else {
		t.Log("/dev is not devtmpfs here: its case is not run")
	}
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
