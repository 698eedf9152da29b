package runner

import (
	"fmt"
	"os"
)

// Executable reports why path is not a program Run could start (missing,
// not a regular file, no execute bit), or nil. It owns that rule and its
// wording for every program hapair runs, so the config check (node.Check)
// says what the daemon would find.
func Executable(path string) error {
	fi, err := os.Stat(path)
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
