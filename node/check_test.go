package node_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hapair/hapair/node"
	"github.com/hapair/hapair/node/nodetest"
)

func TestCheckExamples(t *testing.T) {
	for _, name := range []string{"web-pair.toml", "sip-pair.toml"} {
		t.Run(name, func(t *testing.T) {
			cfg, keys := nodetest.Example(t, name, 0o600)
			rep, err := node.Check(cfg)
			if err != nil {
				t.Fatalf("Check(%s) = %v", name, err)
			}
			want := "; authkeys " + keys + " ok (2 keys, signing with 2)"
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
	_, err := node.Check(cfg, "lb1")
	want := "authkeys: " + keys + ": mode 0644 gives group or others access to the keys, want 0600 (fix: chmod 600 " + keys + ") (cluster.authkeys in " + cfg + ")"
	if err == nil || err.Error() != want {
		t.Errorf("Check(authkeys 0644) = %v,\nwant %s", err, want)
	}
	if err := os.Remove(keys); err != nil {
		t.Fatal(err)
	}
	_, err = node.Check(cfg, "lb1")
	want = "authkeys: open " + keys + ": no such file or directory (cluster.authkeys in " + cfg + ")"
	if err == nil || err.Error() != want {
		t.Errorf("Check(no authkeys) = %v,\nwant %s", err, want)
	}
}
