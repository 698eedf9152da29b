package node_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node"
	"github.com/hapair/hapair/node/nodetest"
)

func TestCheckExamples(t *testing.T) {
	for _, name := range []string{"web-pair.toml", "sip-pair.toml"} {
		t.Run(name, func(t *testing.T) {
			cfg, keys := nodetest.Example(t, name, 0o600)
			rep, err := node.Check(cfg, node.CheckOptions{NoHost: true}) // written for lb1 and lb2, not this host
			if err != nil {
				t.Fatalf("Check(%s) = %v", name, err)
			}
			want := "; authkeys " + keys + " ok (2 keys, signing with 2); host facts not checked"
			if got := rep.Summary(); !strings.HasPrefix(got, "config ok: nodes ") || !strings.HasSuffix(got, want) {
				t.Errorf("Summary() = %q, want both nodes and ending %q", got, want)
			}
		})
	}
}

// TestCheckAuthkeys is issue 8 case 7: a missing authkeys file, or one
// readable by others, passed the check and then stopped had. Check loads
// it as had does and says exactly what is wrong.
func TestCheckAuthkeys(t *testing.T) {
	cfg, keys := nodetest.Example(t, "web-pair.toml", 0o644)
	_, err := node.Check(cfg, node.CheckOptions{NoHost: true})
	// Both places to edit: where the config names the file, and the file.
	at := cfg + ":17:12: cluster.authkeys: "
	want := at + keys + ": mode 0644 gives group or others access to the keys, want 0600 (fix: chmod 600 " + keys + ")"
	if err == nil || err.Error() != want {
		t.Errorf("Check(authkeys 0644) = %v,\nwant %s", err, want)
	}
	if err := os.Remove(keys); err != nil {
		t.Fatal(err)
	}
	_, err = node.Check(cfg, node.CheckOptions{NoHost: true})
	want = at + "open " + keys + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("Check(no authkeys) = %v,\nwant %s", err, want)
	}
}

// TestDryBuildTouchesNothing builds the web-pair example dry with a state
// directory that does not exist: Build must not create it (no lock, no
// generation file), and the node refuses to start.
func TestDryBuildTouchesNothing(t *testing.T) {
	path, _ := nodetest.Example(t, "web-pair.toml", 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.StateDir = filepath.Join(t.TempDir(), "state")
	n, err := node.Build(cfg, node.Options{Node: "lb1", DryRun: true})
	if err != nil {
		t.Fatalf("Build(dry) = %v", err)
	}
	defer n.Close()
	if _, err := os.Stat(cfg.Cluster.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory after a dry build: stat = %v, want it absent", err)
	}
	if err := n.Start(); err == nil {
		t.Error("Start() of a dry-run node = nil, want an error")
	}
}
