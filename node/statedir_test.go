package node

import (
	"os"
	"path/filepath"
	"strings"
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
		{"/proc/hapair", "state directory /proc/hapair: /proc is on proc, a kernel pseudo file system that stores no files"},
		{"/proc/self/hapair/state", "state directory /proc/self/hapair/state: /proc/self is on proc, a kernel pseudo file system that stores no files"},
		{filepath.Join(link, "hapair"), "state directory " + link + "/hapair: " + link + " is on sysfs, a kernel pseudo file system that stores no files"},
	}...)
	if devIsDevtmpfs(t) {
		tests = append(tests, struct{ path, want string }{"/dev/hapair", "state directory /dev/hapair: /dev is on devtmpfs, a kernel pseudo file system that stores no files"})
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

// devIsDevtmpfs reports whether /dev is mounted as devtmpfs here, read
// from mountinfo by mount point (proc(5): field 5), as a container's /dev
// is often a plain tmpfs.
func devIsDevtmpfs(t *testing.T) bool {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	devtmpfs := false
	for _, line := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/dev" { // the last mount on /dev is the one seen
			_, after, _ := strings.Cut(line, " - ")
			devtmpfs = strings.HasPrefix(after, "devtmpfs ")
		}
	}
	return devtmpfs
}

// TestMountFSType reads a mount's type by its device from mountinfo
// (proc(5)), with optional fields before the separator.
func TestMountFSType(t *testing.T) {
	const mi = `22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
24 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4014828k,nr_inodes=1003707,mode=755
30 24 0:26 / /dev/shm rw,nosuid,nodev shared:4 - tmpfs tmpfs rw
`
	for _, tt := range []struct {
		major, minor uint32
		want         string
	}{{0, 5, "devtmpfs"}, {0, 26, "tmpfs"}, {0, 21, "sysfs"}, {8, 1, ""}} {
		if got := mountFSType(mi, tt.major, tt.minor); got != tt.want {
			t.Errorf("mountFSType(%d:%d) = %q, want %q", tt.major, tt.minor, got, tt.want)
		}
	}
}
