package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/internal/config"
)

// TestKeysReload: a reload reads the authkeys file again and swaps the
// keyring in when it changed, so keys rotate as authkeys.sample says (add
// the new key, move auth to it, remove the old one) without a restart;
// the reload printed "no changes" and kept the keys of the start.
func TestKeysReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authkeys")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n")
	kr, _, err := authkeys.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	k := newKeys(kr)
	cfg := &config.Config{Cluster: config.Cluster{Authkeys: path}}
	if line, next, err := k.reload(cfg); line != "" || next != nil || err != nil {
		t.Errorf("reload of an unchanged file = %q, %v, %v; want nothing", line, next, err)
	}
	rotated := "auth 2\n1 sha256 0123456789abcdef0123456789abcdef\n2 sha256 fedcba9876543210fedcba9876543210\n"
	write(rotated)
	line, next, err := k.reload(cfg)
	if want := "authkeys " + path + ": keys 1, 2, signing with 2"; line != want || next == nil || err != nil {
		t.Fatalf("reload of a rotated file = %q, %v, %v; want %q and the new keyring", line, next, err, want)
	}
	k.swap(next)
	want, _, _ := authkeys.Load(path)
	id, mac := k.Sign([]byte("msg"))
	if wid, wmac := want.Sign([]byte("msg")); id != wid || string(mac) != string(wmac) || !k.Verify(1, []byte("msg"), mac1(t, path)) {
		t.Errorf("after the swap: signs with key %d, want %d with the new file's secret, and still verifies key 1", id, wid)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.reload(cfg); err == nil || !strings.Contains(err.Error(), "0644") {
		t.Errorf("reload of a file others can read = %v, want the mode refused", err)
	}
}

// mac1 is the MAC of "msg" under key 1 of the authkeys file at path.
func mac1(t *testing.T, path string) []byte {
	t.Helper()
	one := filepath.Join(t.TempDir(), "one")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if err := os.WriteFile(one, []byte("auth 1\n"+lines[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, _, err := authkeys.Load(one)
	if err != nil {
		t.Fatal(err)
	}
	_, mac := kr.Sign([]byte("msg"))
	return mac
}
