package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Executable reports why path is not a program Run could start (missing,
// not a regular file, no execute bit), or nil. It owns that rule and its
// wording for every program hapair runs, so the config check (node.Check)
// says what the daemon would find.
func Executable(path string) error {
	fi, err := os.Stat(path)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		// "stat X: ..." names a system call; the user wants the file.
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable (mode %#o)", path, fi.Mode().Perm())
	}
	return nil
}
