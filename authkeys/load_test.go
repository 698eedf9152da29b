package authkeys

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

const goodFile = "auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n"

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		desc string
		mode os.FileMode
		body string
		want []string // error substrings; nil = must load
	}{
		{"0600 loads", 0o600, goodFile, nil},
		{"0400 loads", 0o400, goodFile, nil},
		{"0644 refused", 0o644, goodFile, []string{"mode 0644", "want 0600", "chmod 600 "}},
		{"0640 refused", 0o640, goodFile, []string{"mode 0640", "chmod 600"}},
		{"0602 refused", 0o602, goodFile, []string{"mode 0602", "chmod 600"}},
		{"parse errors carry the path", 0o600, "auth 1\n1 crc\n", []string{":2:3: key 1: method crc refused"}},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(dir, "authkeys"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // WriteFile's mode is masked by umask
				t.Fatal(err)
			}
			kr, _, err := Load(path)
			if tt.want == nil {
				if err != nil || kr.SignKeyID() != 1 {
					t.Fatalf("Load(%s) = %v, %v; want key 1, nil", path, kr, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load(%s) error = nil, want %q", path, tt.want)
			}
			for _, w := range append(tt.want, path+":") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load(%s) error = %q, want it to contain %q", path, err, w)
				}
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope")
	_, _, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "authkeys: open "+path) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load(%s) error = %v, want it to name the path and 'no such file'", path, err)
	}
}

// fakeInfo is a FileInfo with a chosen owner, so the owner policy is tested
// without root or chown.
type fakeInfo struct {
	mode fs.FileMode
	uid  uint32
}

func (f fakeInfo) Name() string       { return "authkeys" }
func (f fakeInfo) Size() int64        { return 10 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return &syscall.Stat_t{Uid: f.uid} }

func TestCheckFileOwner(t *testing.T) {
	tests := []struct {
		desc    string
		fi      fakeInfo
		running int
		want    string // "" = accepted
	}{
		{"root file, root daemon", fakeInfo{0o600, 0}, 0, ""},
		{"root file, user daemon", fakeInfo{0o600, 0}, 1000, ""},
		{"own file, user daemon", fakeInfo{0o600, 1000}, 1000, ""},
		{"other user's file", fakeInfo{0o600, 1001}, 0, "/k: owned by uid 1001, want root or the running user (uid 0) (fix: chown root /k)"},
		{"directory", fakeInfo{fs.ModeDir | 0o700, 0}, 0, "/k: is a directory, want a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := checkFile("/k", tt.fi, tt.running)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkFile(%v, uid %d) = %v, want nil", tt.fi, tt.running, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkFile(%v, uid %d) = %v, want %q", tt.fi, tt.running, err, tt.want)
			}
		})
	}
}

// TestLoadFIFO: a FIFO at the authkeys path is refused at once, naming the
// path and what it is, instead of hanging until a writer comes (issue 9
// case 11).
func TestLoadFIFO(t *testing.T) {
	path := testkit.Mkfifo(t, t.TempDir(), "authkeys")
	err := testkit.Returns(t, "Load(fifo)", func() error { _, _, err := Load(path); return err })
	if want := "authkeys: " + path + ": is a named pipe (FIFO), want a regular file"; err == nil || err.Error() != want {
		t.Errorf("Load(fifo) = %v, want %q", err, want)
	}
}
