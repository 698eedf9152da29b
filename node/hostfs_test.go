package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSocket: a control socket whose directory is on a pseudo file
// system is refused by its file system's name, found by statfs whatever
// the path says; one in a private directory passes.
func TestCheckSocket(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "proc")
	if err := os.Symlink("/proc", link); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{filepath.Join(dir, "run", "had.sock"), ""},
		{"/proc/hapair/had.sock", "socket directory /proc/hapair: /proc is on proc, a kernel pseudo file system, not storage"},
		{"/sys/had.sock", "socket directory /sys: /sys is on sysfs, a kernel pseudo file system, not storage"},
		{filepath.Join(link, "had.sock"), "socket directory " + link + ": " + link + " is on proc, a kernel pseudo file system, not storage"},
	}
	if devIsDevtmpfs(t) {
		tests = append(tests, struct{ path, want string }{"/dev/hapair/had.sock", "socket directory /dev/hapair: /dev is on devtmpfs, a kernel pseudo file system, not storage"})
	} else {
		t.Log("/dev is not devtmpfs here: its case is not run")
	}
	for _, tt := range tests {
		if got := errString(checkSocket(tt.path)); got != tt.want {
			t.Errorf("checkSocket(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
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
