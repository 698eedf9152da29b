package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/config/configtest"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/internal/testkit"
)

// minimal is the smallest valid file; tests append to it or replace lines.
const minimal = configtest.Minimal

func TestDefaults(t *testing.T) {
	cfg, err := parse([]byte(minimal+svc), "min.toml")
	if err != nil {
		t.Fatalf("Parse(minimal) error = %v", err)
	}
	cl := cfg.Cluster
	checks := []struct {
		name      string
		got, want any
	}{
		{"keepalive", cl.Keepalive, 100 * time.Millisecond},
		{"deadtime", cl.Deadtime, 400 * time.Millisecond},
		{"warntime", cl.Warntime, 250 * time.Millisecond},
		{"initdead", cl.Initdead, 3 * time.Second},
		{"failback_hold", cl.FailbackHold, 800 * time.Millisecond},
		{"authkeys", cl.Authkeys, DefaultAuthkeys},
		{"state_dir", cl.StateDir, DefaultStateDir},
		{"socket", cl.Socket, ctl.DefaultSocket},
		{"port", cl.Port, uint16(694)},
		{"link name", cfg.Links[0].Name, "mcast0"},
		{"link port", cfg.Links[0].Port, uint16(694)},
		{"garp", cfg.GARP, GARP{Count: 5, Interval: 200 * time.Millisecond, SecondBurst: 5 * time.Second, Form: "both"}},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("Parse(minimal) %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestDerivedTiming: setting keepalive alone gives a consistent set.
func TestDerivedTiming(t *testing.T) {
	cfg, err := parse([]byte(strings.Replace(minimal+svc, "id = 7", "id = 7\nkeepalive = \"2s\"", 1)), "t.toml")
	if err != nil {
		t.Fatalf("Parse(keepalive 2s) error = %v", err)
	}
	cl := cfg.Cluster
	if cl.Deadtime != 8*time.Second || cl.Warntime != 5*time.Second || cl.Initdead != 16*time.Second {
		t.Errorf("Parse(keepalive 2s) dead/warn/initdead = %s/%s/%s, want 8s/5s/16s", cl.Deadtime, cl.Warntime, cl.Initdead)
	}
}

func TestParseFiles(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"testdata/ultramonkey.toml", func(t *testing.T, c *Config) {
			if got := c.Cluster.Nodes; len(got) != 2 || got[0] != "AppNode1" {
				t.Errorf("nodes = %q, want [AppNode1 AppNode2]", got)
			}
			g := c.Groups[0]
			if g.Priorities["AppNode1"] != 200 || g.Priorities["AppNode2"] != 100 {
				t.Errorf("priorities = %v, want AppNode1:200 AppNode2:100", g.Priorities)
			}
			if v := g.Resources[2].VIP; v == nil || v.Prefix != netip.MustParsePrefix("198.18.0.154/25") || v.GARP.Count != 5 {
				t.Errorf("resources[2] = %+v, want vip 198.18.0.154/25 with default garp", g.Resources[2])
			}
			http := c.Services[0]
			if !http.Check.Receive.MatchString("<h1>Sample SpringRing web application</h1>") || http.Check.Rise != 2 || http.Check.Fall != 3 {
				t.Errorf("http check = %+v, want receive matching, rise 2, fall 3", http.Check)
			}
			sip := c.Services[1]
			if sip.Persistent != time.Second || sip.IdleTimeout != time.Minute || sip.Reals[1].Address != netip.MustParseAddrPort("198.18.0.146:7072") {
				t.Errorf("sip = %+v, want persistent 1s, idle 60s, real 198.18.0.146:7072", sip)
			}
		}},
		{"../../deploy/web-pair.toml", func(t *testing.T, c *Config) {
			s := c.Groups[0].Resources[2].Script
			if s == nil || s.Path != "mailq" || len(s.Args) != 1 || s.Args[0] != "flush" {
				t.Errorf("script resource = %+v, want mailq [flush] (looked up in script.DefaultDirs when built)", s)
			}
			if got := c.Services[1].Reals[0].Address; got != netip.MustParseAddrPort("198.18.1.21:5060") {
				t.Errorf("sip real without port = %s, want the listen port 198.18.1.21:5060", got)
			}
			if got := c.Links[1].Peers["lb2"]; got != netip.MustParseAddr("198.19.255.2") {
				t.Errorf("ucast peer lb2 = %s, want 198.19.255.2", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := load(tt.file)
			if err != nil {
				t.Fatalf("Load(%s) error:\n%v", tt.file, err)
			}
			tt.check(t, c)
		})
	}
}

// TestDeployExamples parses every example shipped in deploy/.
func TestDeployExamples(t *testing.T) {
	files, err := filepath.Glob("../../deploy/*.toml")
	if err != nil || len(files) < 2 {
		t.Fatalf("Glob(deploy/*.toml) = %v, %v; want at least 2 examples", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := load(f)
			if err != nil {
				t.Fatalf("Load(%s) error:\n%v", f, err)
			}
			if len(c.Groups) == 0 || len(c.Services) == 0 {
				t.Errorf("Load(%s) = %d groups, %d services; want an example with both", f, len(c.Groups), len(c.Services))
			}
		})
	}
}

func TestSelf(t *testing.T) {
	c := &Config{File: "f.toml", Cluster: Cluster{Nodes: []string{"lb1", "lb2"}}}
	host := func(h string) func() (string, error) { return func() (string, error) { return h, nil } }
	tests := []struct {
		override, host, want, wantErr string
	}{
		{"", "lb1", "lb1", ""},
		{"", "lb2.example.net", "lb2", ""},
		{"lb2", "lb1", "lb2", ""},
		// Heartbeat's rule: node names match ignoring case.
		{"", "LB1", "lb1", ""},
		{"", "LB2.example.net", "lb2", ""},
		{"Lb2", "lb1", "lb2", ""},
		{"lb3", "lb1", "", `node "lb3" (from --node) is not in cluster.nodes ["lb1" "lb2"] of f.toml`},
		{"", "db1", "", `host name "db1" is not in cluster.nodes ["lb1" "lb2"] of f.toml (name the node with --node NAME)`},
	}
	for _, tt := range tests {
		got, err := c.self(tt.override, host(tt.host))
		if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && err.Error() != tt.wantErr {
			t.Errorf("self(%q, host %q) = %q, %v; want %q, %q", tt.override, tt.host, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := load(path)
	if err == nil || err.Error() != "cannot read "+path+": no such file or directory" {
		t.Errorf("Load(%s) error = %v, want it to name the file and 'no such file'", path, err)
	}
}

// TestLoadFIFO: a FIFO at the config path is refused at once with the path
// and what it is, never read (issue 9 case 11: had --check hung on one).
func TestLoadFIFO(t *testing.T) {
	path := testkit.Mkfifo(t, t.TempDir(), "had.toml")
	err := testkit.Returns(t, "Load(fifo)", func() error { _, err := load(path); return err })
	if want := path + ": is a named pipe (FIFO), want a regular file"; err == nil || err.Error() != want {
		t.Errorf("Load(fifo) = %v, want %q", err, want)
	}
}

func TestErrorsType(t *testing.T) {
	_, err := parse([]byte("[cluster]\nname = 3\n"), "t.toml")
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || es[0].Pos.Line != 2 || es[0].Path != "cluster.name" {
		t.Fatalf("Parse(name = 3) error = %#v, want one Errors entry at line 2 for cluster.name", err)
	}
	if !strings.HasPrefix(es[0].Error(), "t.toml:2:8: cluster.name: ") {
		t.Errorf("Error() = %q, want prefix %q", es[0].Error(), "t.toml:2:8: cluster.name: ")
	}
}

// TestServiceLimits: maxconn, max_flows and the HTTP timeouts reach
// Service; unset they stay 0 so the domain packages' defaults apply.
