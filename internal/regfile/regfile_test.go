package regfile

import (
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
)

// TestOpenRefusesWithoutBlocking: a FIFO, a directory and a socket are
// refused at once with the path and what they are; a regular file and a
// link to one open.
func TestOpenRefusesWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	fifo := testkit.Mkfifo(t, dir, "fifo")
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reg := testkit.WriteFile(t, dir, "reg", "1\n", 0o600)
	link := testkit.Symlink(t, reg, dir, "link")
	for _, tt := range []struct{ path, want string }{
		{fifo, fifo + ": is a named pipe (FIFO), want a regular file"},
		{dir, dir + ": is a directory, want a regular file"},
		{reg, ""},
		{link, ""},
	} {
		f, _, err := Open(tt.path)
		if tt.want == "" {
			if err != nil {
				t.Errorf("Open(%s) = %v, want nil", tt.path, err)
			} else {
				f.Close()
			}
			continue
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("Open(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
	// A socket cannot be opened at all (ENXIO); the error names the path.
	if _, _, err := Open(sock); err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("Open(socket) = %v, want an error naming %s", err, sock)
	}
}

// TestKind: a character device is named as one, not as the block device
// its fs.ModeDevice bit alone would say.
func TestKind(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		0o644:                             "a regular file",
		fs.ModeDir | 0o755:                "a directory",
		fs.ModeDevice | fs.ModeCharDevice: "a character device",
		fs.ModeDevice:                     "a block device",
		fs.ModeSymlink | 0o777:            "a symbolic link",
		fs.ModeIrregular | 0o644:          "a special file (mode ?rw-r--r--)",
	} {
		if got := Kind(m); got != want {
			t.Errorf("Kind(%v) = %q, want %q", m, got, want)
		}
	}
}
