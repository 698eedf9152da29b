package ctl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSocketNameLimit asserts MaxSocketPath against the kernel: a path of
// that length listens, one byte more is refused by CheckSocketName.
func TestSocketNameLimit(t *testing.T) {
	dir := t.TempDir()
	pad := MaxSocketPath - len(dir) - len("/.sock")
	if pad < 1 {
		t.Skipf("temp dir %s too long for the test", dir)
	}
	path := filepath.Join(dir, strings.Repeat("s", pad)+".sock")
	if err := CheckSocketName(path); err != nil {
		t.Fatalf("CheckSocketName(%d bytes) = %v, want nil", len(path), err)
	}
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen(%d bytes) = %v, want success", len(path), err)
	}
	ln.Close()
	long := path + "x"
	want := "108 bytes is longer than the 107 a Unix socket path holds (sun_path, unix(7))"
	if err := CheckSocketName(long); err == nil || err.Error() != want {
		t.Errorf("CheckSocketName(108 bytes) = %v, want %q", err, want)
	}
	want = `"had.sock": want an absolute path (hactl and had run from different directories)`
	if err := CheckSocketName("had.sock"); err == nil || err.Error() != want {
		t.Errorf("CheckSocketName(relative) = %v, want %q", err, want)
	}
}

// TestCallNotASocket: a -s naming a file or directory says so, without
// the "is had running?" hint that fits only a socket nobody listens on.
func TestCallNotASocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "had.toml")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := Call(ctxT(t), file, Request{Verb: VerbStatus}, nil)
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("Call to a file = %v, want UnreachableError", err)
	}
	want := "cannot reach had at " + file + ": " + file + " is not a socket (mode -rw-------): wrong -s, -c or cluster.socket?"
	if err.Error() != want {
		t.Errorf("Call to a file:\n%v\nwant:\n%s", err, want)
	}
}
