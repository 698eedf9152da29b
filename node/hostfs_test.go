package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
)

// TestCheckSocket: a control socket whose directory is on a pseudo file
// system is refused by its file system's name, found by statfs whatever
// the path says; one in a private directory passes.
func TestCheckSocket(t *testing.T) {
	dir := t.TempDir()
	tests := append([]pathCase{{filepath.Join(dir, "run", "had.sock"), ""}}, pseudoFSCases(t, dir, "socket directory", "had.sock")...)
	for _, tt := range tests {
		if got := errString(checkSocket(tt.path)); got != tt.want {
			t.Errorf("checkSocket(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// pathCase is a path a check of a host directory is given and its error
// ("" for none).
type pathCase struct{ path, want string }

// pseudoFSCases are the cases every check of a host directory (what:
// "socket directory", "state directory") shares: a directory on a pseudo
// file system is refused by the file system's name, found by its statfs
// magic whatever the path says (proc and sysfs also through links in
// dir), and devtmpfs when /dev is one here. The path checked is the
// directory joined with leaf ("had.sock" for a socket, "" for the
// directory itself); the error names the directory and its nearest part
// that exists.
func pseudoFSCases(t *testing.T, dir, what, leaf string) []pathCase {
	procLink := testkit.Symlink(t, "/proc", dir, "proc")
	sysLink := testkit.Symlink(t, "/sys", dir, "sys")
	var cases []pathCase
	add := func(d, on, fs string) {
		cases = append(cases, pathCase{filepath.Join(d, leaf), what + " " + d + ": " + on + " is on " + fs + ", a kernel pseudo file system, not storage"})
	}
	add("/proc/hapair", "/proc", "proc")
	add("/proc/self/hapair", "/proc/self", "proc")
	add("/sys", "/sys", "sysfs")
	add(procLink, procLink, "proc")
	add(filepath.Join(sysLink, "hapair"), sysLink, "sysfs")
	if devIsDevtmpfs(t) {
		add("/dev/hapair", "/dev", "devtmpfs")
	} else {
		t.Log("/dev is not devtmpfs here: its case is not run")
	}
	return cases
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
