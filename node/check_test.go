package node_test

import (
	"context"
	"errors"
	"net/netip"
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
	want = at + "cannot read " + keys + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("Check(no authkeys) = %v,\nwant %s", err, want)
	}
}

// TestDryBuildTouchesNothing builds the web-pair example dry with a state
// directory that does not exist: Build must not create it (no lock, no
// generation file), and the node refuses to start.
func TestDryBuildTouchesNothing(t *testing.T) {
	path, _ := nodetest.Example(t, "web-pair.toml", 0o600)
	cfg, err := node.LoadConfig(path)
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

// failResolver fails the test on any lookup: a check with NoHost resolves
// no name (a reviewer's --no-host check sent DNS queries off the machine).
type failResolver struct{ t *testing.T }

func (r failResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.t.Errorf("LookupNetIP(%q) called by a check with NoHost", host)
	return nil, errors.New("no lookups here")
}

// TestCheckNoHostResolvesNothing: reals written as host names pass a
// NoHost check, each on a stand-in address of its own (two names are two
// reals, not a duplicate), none is looked up, and the summary names them.
func TestCheckNoHostResolvesNothing(t *testing.T) {
	path, _ := nodetest.Example(t, "web-pair.toml", 0o600)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), `{ address = "198.18.1.11:80", weight = 1 }`, `{ address = "web1.example:80", weight = 1 }`, 1)
	text = strings.Replace(text, `{ address = "198.18.1.12:80", weight = 2 }`, `{ address = "web2.example:80", weight = 2 }`, 1)
	if text == string(b) {
		t.Fatal("the example's reals changed: update the test")
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	saved := config.DefaultResolver
	config.DefaultResolver = failResolver{t}
	t.Cleanup(func() { config.DefaultResolver = saved })
	rep, err := node.Check(path, node.CheckOptions{NoHost: true})
	if err != nil {
		t.Fatalf("Check = %v", err)
	}
	if want := "host facts not checked (host names not resolved: web1.example, web2.example)"; !strings.HasSuffix(rep.Summary(), want) {
		t.Errorf("Summary() = %q, want it to end %q", rep.Summary(), want)
	}
	var got []netip.AddrPort
	for _, s := range rep.Config.Services {
		for _, r := range s.Reals {
			if r.Host != "" {
				got = append(got, r.Address)
			}
		}
	}
	if len(got) != 2 || got[0] == got[1] || !netip.MustParsePrefix("192.0.2.0/24").Contains(got[0].Addr()) {
		t.Errorf("stand-in addresses %v, want two distinct ones in 192.0.2.0/24", got)
	}
}
