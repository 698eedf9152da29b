package ctl

import (
	"fmt"
	"path/filepath"
)

// MaxSocketPath is the longest control socket path had can listen on:
// sun_path holds 108 bytes with the terminating NUL (unix(7)).
const MaxSocketPath = 107

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
