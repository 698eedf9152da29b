package ctl

import (
	"fmt"
	"path/filepath"

	"github.com/hapair/hapair/internal/runner"
)

// MaxSocketPath is the longest control socket path had can listen on:
// runner.MaxSocketPath, sun_path's 108 bytes less the terminating NUL
// (unix(7)), the limit of every daemon's socket.
const MaxSocketPath = runner.MaxSocketPath

// CheckSocketName reports why path cannot be had's control socket, from
// its text alone (no I/O): it must be absolute, since had and hactl run
// from different working directories, and fit in sun_path.
func CheckSocketName(path string) error {
	switch {
	case !filepath.IsAbs(path):
		return fmt.Errorf("%q: want an absolute path (hactl and had run from different directories)", path)
	case len(path) > MaxSocketPath:
		return fmt.Errorf("%d bytes is longer than the %d a Unix socket path holds (sun_path, unix(7))", len(path), MaxSocketPath)
	}
	return nil
}
