package authkeys

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/hapair/hapair/internal/regfile"
)

// maxFileSize bounds what Load reads; 255 keys with long secrets fit easily.
const maxFileSize = 1 << 20

// Load reads an authkeys file, refusing group/other-readable modes and bad owners.
//
// The permission checks run on the opened file (fstat), so the file checked is
// the file read. Anything but a regular file (a FIFO, which a plain open would
// wait on forever, a directory, a device) is refused, naming what it is. Like Heartbeat, any group or other permission bit is refused.
func Load(path string) (*Keyring, []string, error) {
	f, fi, err := regfile.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("authkeys: %w", err)
	}
	defer f.Close()
	if err := checkFile(path, fi, os.Getuid()); err != nil {
		return nil, nil, err
	}
	return Parse(io.LimitReader(f, maxFileSize), path)
}

// checkFile applies the file policy to fi; uid is the running user.
func checkFile(path string, fi fs.FileInfo, uid int) error {
	whole := func(format string, args ...any) error {
		return Errors{{File: path, Msg: fmt.Sprintf(format, args...)}}
	}
	if !fi.Mode().IsRegular() {
		return whole("%v", regfile.NotRegular(fi.Mode()))
	}
	if fi.Size() > maxFileSize {
		return whole("%d bytes, larger than the %d-byte limit", fi.Size(), maxFileSize)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return whole("mode %04o gives group or others access to the keys, want 0600 (fix: chmod 600 %s)", perm, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != uid {
		return whole("owned by uid %d, want root or the running user (uid %d) (fix: chown root %s)", st.Uid, uid, path)
	}
	return nil
}
