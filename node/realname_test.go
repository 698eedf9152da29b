package node

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/proxy"
)

// TestFindReal: `hactl real` takes a real as the config writes it (a host
// name, with or without its port) or as it resolved (ADDRESS:PORT, or the
// address alone when one real has it), and refuses the rest naming the
// service's reals.
func TestFindReal(t *testing.T) {
	ap := netip.MustParseAddrPort
	cfg := &config.Config{Services: []config.Service{{
		Name: "http", Listen: ap("198.18.0.100:80"),
		Reals: []config.Real{
			{Address: ap("198.18.0.21:80"), Host: "backend1"},
			{Address: ap("198.18.0.22:80")},
			{Address: ap("198.18.0.22:8080")},
			{Address: ap("[2001:db8::5]:80")},
		},
		Backups: []config.Real{{Address: ap("198.18.0.30:80"), Host: "sorry"}},
	}}}
	tests := []struct {
		spec string
		want string // the address, or the error's text
	}{
		{"198.18.0.21:80", "198.18.0.21:80"},
		{"backend1:80", "198.18.0.21:80"},
		{"backend1", "198.18.0.21:80"},
		{"BACKEND1:80", "198.18.0.21:80"}, // host names ignore case
		{"198.18.0.21", "198.18.0.21:80"},
		{"[2001:db8::5]:80", "[2001:db8::5]:80"},
		{"2001:db8::5", "[2001:db8::5]:80"},
		{"sorry", "198.18.0.30:80"}, // a backup is drained the same way
		{"198.18.0.22:8080", "198.18.0.22:8080"},
		{"198.18.0.22", `real "198.18.0.22" of service http: 198.18.0.22:80 and 198.18.0.22:8080 have that address: give the port`},
		{"backend1:81", `service http has no real "backend1:81"; its reals: backend1:80 (198.18.0.21:80), 198.18.0.22:80, 198.18.0.22:8080, [2001:db8::5]:80, backup sorry:80 (198.18.0.30:80)`},
		{"backend9", `service http has no real "backend9"`},
		{"198.18.0.23:80", `service http has no real "198.18.0.23:80"`},
		{"", `service http has no real ""`},
	}
	for _, tt := range tests {
		got, err := findReal(cfg, "http", tt.spec)
		switch {
		case err != nil && !strings.Contains(err.Error(), tt.want):
			t.Errorf("findReal(%q) error %q, want %q", tt.spec, err, tt.want)
		case err == nil && got.String() != tt.want:
			t.Errorf("findReal(%q) = %v, want %s", tt.spec, got, tt.want)
		}
	}
	if _, err := findReal(cfg, "sip", "backend1"); err == nil || err.Error() != `unknown service "sip"; services: http` {
		t.Errorf("findReal(sip) error = %v", err)
	}
}

// TestRealDone: the reply says the drain is this node's only and gives the
// command for the peers, with the real as the operator wrote it.
func TestRealDone(t *testing.T) {
	real := netip.MustParseAddrPort("198.18.0.21:80")
	got := realDone("lb1", []string{"lb1", "lb2"}, ctl.Request{Action: "disable", Service: "http", Real: "backend1:80"}, real)
	want := "real backend1:80 (198.18.0.21:80) of service http disabled on lb1 only: the drain stays on this node (and a restart of had ends it); " +
		"so that it holds after a switchover or failover, run on lb2 too: hactl real disable http backend1:80"
	if got != want {
		t.Errorf("disable reply\n got %q\nwant %q", got, want)
	}
	got = realDone("lb2", []string{"lb1", "lb2", "lb3"}, ctl.Request{Action: "enable", Service: "http", Real: "198.18.0.21:80"}, real)
	want = "real 198.18.0.21:80 of service http enabled on lb2 only; if it is disabled on lb1 and lb3 too, run there: hactl real enable http 198.18.0.21:80"
	if got != want {
		t.Errorf("enable reply\n got %q\nwant %q", got, want)
	}
}

// TestDrainNote: `hactl services` says which reals are drained on this
// node only, and nothing when none is.
func TestDrainNote(t *testing.T) {
	snap := &proxy.Snapshot{Services: []proxy.ServiceStatus{
		{Name: "http", Reals: []proxy.RealStatus{{Address: "198.18.0.21:80", Draining: true}, {Address: "198.18.0.22:80"}}},
		{Name: "sip", Reals: []proxy.RealStatus{{Address: "198.18.0.31:5060", Draining: true}}},
	}}
	want := "drained on lb1 only (hactl real disable): http 198.18.0.21:80, sip 198.18.0.31:5060; a drain does not reach lb2: disable them there too to keep them drained after a switchover\n"
	if got := drainNote(snap, "lb1", []string{"lb1", "lb2"}); got != want {
		t.Errorf("drainNote\n got %q\nwant %q", got, want)
	}
	snap.Services[0].Reals[0].Draining, snap.Services[1].Reals[0].Draining = false, false
	if got := drainNote(snap, "lb1", []string{"lb1", "lb2"}); got != "" {
		t.Errorf("drainNote with nothing drained = %q, want none", got)
	}
}

// TestNotSelf: the refusal of `hactl peer reset SELF` for a cluster of
// one, two and three nodes; any other name passes to the links' own check.
func TestNotSelf(t *testing.T) {
	for _, tc := range []struct {
		nodes []string
		want  string
	}{
		{[]string{"lb1"}, "lb1 is this node; peer reset is for a peer, and this cluster has none"},
		{[]string{"lb1", "lb2"}, "lb1 is this node; peer reset is for a peer: to have lb2 accept lb1's heartbeats again, run hactl peer reset lb1 on lb2"},
		{[]string{"lb0", "lb1", "lb2"}, "lb1 is this node; peer reset is for a peer: to have a peer (lb0 and lb2) accept lb1's heartbeats again, run hactl peer reset lb1 on it"},
	} {
		if err := notSelf("lb1", tc.nodes, "lb1"); err == nil || err.Error() != tc.want {
			t.Errorf("notSelf(lb1, %v) = %v,\nwant %s", tc.nodes, err, tc.want)
		}
	}
	if err := notSelf("lb1", []string{"lb1", "lb2"}, "lb9"); err != nil {
		t.Errorf("notSelf(lb9) = %v, want nil (the links name an unknown node)", err)
	}
}
