package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSocketPath: what Listen would refuse, found without creating
// anything: a directory others can write, also one Listen would create
// under a parent others can write without the sticky bit, and a path that
// is not a socket; a private directory Listen would create under /tmp's
// kind of parent (sticky) is fine.
func TestCheckSocketPath(t *testing.T) {
	uid := os.Geteuid()
	mk := func(mode os.FileMode) string {
		d := t.TempDir()
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		return d
	}
	open, sticky, private := mk(0o777), mk(os.ModeSticky|0o777), mk(0o700)
	file := filepath.Join(private, "had.sock")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string // want "": ok; else a part of the error
	}{
		{filepath.Join(private, "had.sock.new"), ""},
		{filepath.Join(private, "sub", "had.sock"), ""},
		{filepath.Join(sticky, "hapair", "had.sock"), ""},
		{filepath.Join(sticky, "had.sock"), "has mode 0777"},
		{filepath.Join(open, "had.sock"), "has mode 0777"},
		{filepath.Join(open, "hapair", "had.sock"), "has mode 0777"},
		{file, "exists and is not a socket"},
	}
	for _, tt := range tests {
		err := CheckSocketPath(tt.path, uid)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckSocketPath(%s) = %v, want %q", tt.path, err, tt.want)
		}
		if _, err := os.Stat(filepath.Join(sticky, "hapair")); err == nil {
			t.Fatalf("CheckSocketPath created %s/hapair", sticky)
		}
	}
}
