package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Mkfifo makes a named pipe at dir/name and returns its path: what a
// reader that does not check file types would wait on forever.
func Mkfifo(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("mkfifo %s: %v", path, err)
	}
	return path
}

// WriteFile writes data to dir/name with perm and returns its path.
func WriteFile(t testing.TB, dir, name, data string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// Symlink makes dir/name a symbolic link to target and returns its path.
func Symlink(t testing.TB, target, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteScript writes an executable shell script (#!/bin/sh, then body
// ending in a newline) named name into dir and returns its path.
func WriteScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return WriteFile(t, dir, name, "#!/bin/sh\n"+body, 0o755)
}
