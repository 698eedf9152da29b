package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/internal/testkit"
)

// fakeDaemon serves the control protocol with a fixed status and records
// the requests it saw.
func fakeDaemon(t *testing.T, st ctl.Status) (socket string, seen *[]ctl.Request) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "had.sock")
	ln, err := ctl.Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []ctl.Request
	srv := ctl.Serve(ln, func(_ context.Context, req ctl.Request) (any, error) {
		reqs = append(reqs, req)
		switch req.Verb {
		case ctl.VerbStatus:
			return st, nil
		case ctl.VerbTakeover:
			if req.Group == "nope" {
				return nil, errors.New(`group "nope" is not configured`)
			}
			return "takeover of web requested", nil
		}
		return nil, errors.New("unexpected verb " + req.Verb)
	}, nil)
	t.Cleanup(func() { srv.Close() })
	return socket, &reqs
}

func runHactl(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func pairStatus(node, owner string) ctl.Status {
	state := "standby"
	if owner == node {
		state = "master"
	}
	return ctl.Status{
		Node: node, Cluster: "web", ClusterID: 7, Generation: 3,
		Groups: []ctl.GroupStatus{{Name: "web", Owner: owner, State: state, Preferred: "lb1", Priority: 200, Reason: "peer lb2 dead"}},
		Peers:  []ctl.PeerStatus{{Name: "lb2", Alive: true, LastHeard: time.Now(), Links: map[string]bool{"mcast0": true, "ucast1": false}}},
		Links:  []ctl.LinkStatus{{Name: "mcast0", Kind: "mcast", Sent: 10, Received: 9, Drops: map[string]uint64{"bad-mac": 2}}},
	}
}

func TestIsMasterExitCodes(t *testing.T) {
	master, _ := fakeDaemon(t, pairStatus("lb1", "lb1"))
	backup, _ := fakeDaemon(t, pairStatus("lb2", "lb1"))
	missing := filepath.Join(t.TempDir(), "gone.sock")
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"owner", []string{"is-master", "-s", master, "web"}, 0, "master running", ""},
		{"owner all groups", []string{"is-master", "-s", master}, 0, "master running", ""},
		{"standby", []string{"-s", backup, "is-master", "web"}, 1, "master stopped", ""},
		{"unknown group", []string{"is-master", "-s", master, "db"}, 2, "", `group "db" is not configured`},
		{"no daemon", []string{"is-master", "-s", missing}, 2, "", missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runHactl(tc.args...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("hactl %v = %d, %q, %q; want %d, %q, %q", tc.args, code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}

func TestStatusTextAndJSON(t *testing.T) {
	socket, _ := fakeDaemon(t, pairStatus("lb1", "lb1"))
	code, out, errOut := runHactl("status", "-s", socket)
	if code != 0 {
		t.Fatalf("status = %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"node lb1", "web", "master", "peer lb2 dead", "mcast0:up ucast1:down", "bad-mac=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runHactl("status", "-s", socket, "-o", "json")
	var st ctl.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Groups[0].Owner != "lb1" {
		t.Errorf("status -o json = %d, %q; want JSON naming owner lb1", code, out)
	}
}

func TestMoveVerbs(t *testing.T) {
	socket, seen := fakeDaemon(t, pairStatus("lb1", "lb1"))
	code, out, _ := runHactl("takeover", "-s", socket, "web")
	if code != 0 || !strings.Contains(out, "takeover of web requested") {
		t.Errorf("takeover web = %d, %q", code, out)
	}
	if got := (*seen)[0]; got.Verb != ctl.VerbTakeover || got.Group != "web" {
		t.Errorf("daemon saw %+v, want takeover of web", got)
	}
	code, _, errOut := runHactl("takeover", "-s", socket, "nope")
	if code != 1 || !strings.Contains(errOut, `group "nope" is not configured`) {
		t.Errorf("takeover nope = %d, %q; want exit 1 with had's reason", code, errOut)
	}
}

// TestFlagsAfterGroup: every daemon verb takes its flags after GROUP, as
// standby always did (`hactl takeover web -s SOCKET`); "--" ends them.
func TestFlagsAfterGroup(t *testing.T) {
	socket, seen := fakeDaemon(t, pairStatus("lb1", "lb1"))
	code, out, errOut := runHactl("takeover", "web", "-s", socket)
	if code != 0 || out != "takeover of web requested\n" {
		t.Errorf("takeover web -s SOCKET = %d, %q, %q", code, out, errOut)
	}
	if got := (*seen)[0]; got.Verb != ctl.VerbTakeover || got.Group != "web" {
		t.Errorf("daemon saw %+v, want takeover of web", got)
	}
	code, _, errOut = runHactl("takeover", "web", "extra", "-s", socket)
	if code != 2 || !strings.HasPrefix(errOut, "hactl: takeover: unexpected argument \"extra\"\n") {
		t.Errorf("takeover web extra = %d, %q; want exit 2 naming the extra argument", code, errOut)
	}
	code, _, errOut = runHactl("takeover", "-s", socket, "--", "-web")
	if code != 0 {
		t.Errorf("takeover -- -web = %d, %q", code, errOut)
	}
	if got := (*seen)[len(*seen)-1]; got.Group != "-web" {
		t.Errorf("after --, daemon saw group %q, want -web", got.Group)
	}
}

func TestUnreachableIsOneLineExit2(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "had.sock")
	for _, verb := range []string{"status", "takeover", "standby", "reload", "services"} {
		code, _, errOut := runHactl(verb, "-s", missing)
		if code != 2 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, missing) {
			t.Errorf("hactl %s without had = %d, %q; want exit 2 and one line naming %s", verb, code, errOut, missing)
		}
	}
}

// TestStatusNamesPeerTrouble: a peer dropped as a replay is shown with the
// cause and the remedy (issue 9 case 4); a peer heard only through dropped
// heartbeats (another authkeys secret) with the reason and that both nodes
// may hold the groups (review 12, item 3).
func TestStatusNamesPeerTrouble(t *testing.T) {
	for _, tt := range []struct {
		dropping, rejected string
		want               string
	}{
		{dropping: "generation 1 < 3",
			want: "dropping lb2: generation 1 < 3 (replays; if its state directory was lost: hactl peer reset lb2)"},
		{rejected: "bad-mac from 198.18.0.12:694 on mcast0: bad authentication: ...",
			want: "REJECTED lb2: heard only through heartbeats dropped as bad-mac from 198.18.0.12:694 on mcast0: bad authentication: ... (it counts as dead: both nodes may hold the groups)"},
	} {
		st := pairStatus("lb1", "lb1")
		st.Peers[0].Dropping, st.Peers[0].Rejected = tt.dropping, tt.rejected
		var buf bytes.Buffer
		printStatus(&buf, &st, time.Now())
		if !strings.Contains(buf.String(), tt.want) {
			t.Errorf("status:\n%s\nwant a line %q", buf.String(), tt.want)
		}
	}
}

// TestPeerResetVerb: `hactl peer reset lb2` sends the request; a refusal
// exits 1 with the daemon's reason.
func TestPeerResetVerb(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "had.sock")
	ln, err := ctl.Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := ctl.Serve(ln, func(_ context.Context, req ctl.Request) (any, error) {
		if req.Verb != ctl.VerbPeer || req.Action != "reset" {
			return nil, errors.New("unexpected request")
		}
		if req.Peer != "lb2" {
			return nil, errors.New(`peer reset refused: "` + req.Peer + `" is not a peer of this node`)
		}
		return "peer lb2: replay state reset", nil
	}, nil)
	defer srv.Close()
	if code, out, errs := runHactl("peer", "-s", socket, "reset", "lb2"); code != 0 || !strings.Contains(out, "replay state reset") {
		t.Errorf("hactl peer reset lb2 = %d %q %q, want 0 and the daemon's answer", code, out, errs)
	}
	if code, _, errs := runHactl("peer", "-s", socket, "reset", "lb9"); code != 1 || !strings.Contains(errs, "is not a peer of this node") {
		t.Errorf("hactl peer reset lb9 = %d %q, want 1 and the refusal", code, errs)
	}
	if code, _, _ := runHactl("peer", "-s", socket, "forget", "lb2"); code != 2 {
		t.Errorf("hactl peer forget = %d, want 2 (usage)", code)
	}
}

// TestStatusShowsSync: the persistence sync section names each peer's
// table state and the sync links' drops.
func TestStatusShowsSync(t *testing.T) {
	st := pairStatus("lb1", "lb1")
	now := time.Now()
	st.Sync = &ctl.Sync{
		Links: []ctl.LinkStatus{{Name: "sync-mcast0", Kind: "mcast", Sent: 10, Received: 9,
			Drops: map[string]uint64{"bad-mac": 1, "replay": 2}}},
		Peers:   []ctl.SyncPeer{{Name: "lb2", LastHeard: now.Add(-300 * time.Millisecond), HaveOurs: true, Lost: 1}},
		Entries: 42, EntriesSent: 40, ResyncsSent: 1, Messages: 10, PayloadBytes: 800,
	}
	var buf bytes.Buffer
	printStatus(&buf, &st, now)
	for _, want := range []string{
		"persistence sync: 42 entries here, 40 sent, 0 received, 1 full resyncs sent, 10 messages (800 bytes)",
		"lb2        300ms ago   yes            no                 1\n",
		"sync-mcast0  mcast  10    9         bad-mac=1 replay=2\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("status:\n%s\nwant a line with %q", buf.String(), want)
		}
	}
}

// wedgedDaemon is a socket that accepts connections and never answers,
// as a had stuck in a deadlock would.
func wedgedDaemon(t *testing.T) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "had.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	t.Cleanup(func() { // after Accept's cleanup: the loop has ended
		for _, c := range conns {
			c.Close()
		}
	})
	testkit.Accept(t, ln, func(c net.Conn) { conns = append(conns, c) })
	return socket
}

// TestWedgedDaemon: against a had whose socket accepts and never answers,
// hactl gives up after its --timeout (a few seconds by default, longer
// for verbs that wait for resources) with one line naming the socket, and
// exits 2 as for an unreachable had.
func TestWedgedDaemon(t *testing.T) {
	socket := wedgedDaemon(t)
	start := time.Now()
	code, stdout, stderr := runHactl("status", "-s", socket, "--timeout", "300ms")
	want := "hactl: status: had at " + socket + " did not answer within 300ms: it may be wedged (see its log: journalctl -u had) or busy; --timeout waits longer\n"
	if code != exitUsage || stdout != "" || stderr != want {
		t.Errorf("hactl status (wedged) = %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, exitUsage, want)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("hactl status (wedged, --timeout 300ms) took %v", d)
	}
	for _, tc := range []struct {
		verb string
		def  time.Duration
	}{{"status", queryTimeout}, {"is-master", queryTimeout}, {"services", queryTimeout}, {"takeover", waitTimeout}, {"standby", waitTimeout}, {"reload", waitTimeout}} {
		_, usage, _ := runHactl(tc.verb, "-h") // the usage asked for goes to stdout
		if want := "how long to wait for had's answer (default " + tc.def.String() + ")"; !strings.Contains(usage, want) {
			t.Errorf("hactl %s -h = %q, want it to contain %q", tc.verb, usage, want)
		}
	}
	if queryTimeout > 10*time.Second || waitTimeout <= ctl.RequestTimeout {
		t.Errorf("queryTimeout %v, waitTimeout %v: want a few seconds for queries, and more than had's own bound %v for verbs that wait", queryTimeout, waitTimeout, ctl.RequestTimeout)
	}
	if code, _, stderr := runHactl("status", "-s", socket, "--timeout", "0s"); code != exitUsage || !strings.Contains(stderr, "--timeout 0s: want a positive duration") {
		t.Errorf("hactl status --timeout 0s = %d, %q; want %d and the flag named", code, stderr, exitUsage)
	}
}

// TestFlagsBeforeHad: a verb's command line is checked whole before had
// is asked, so a mistake in it is what hactl says even with had down (the
// socket here does not exist), not "cannot reach had".
func TestFlagsBeforeHad(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		args []string
		want string // stderr's first line
	}{
		{[]string{"status", "-o", "yaml"}, `hactl: status: unknown output format "yaml", want text or json`},
		{[]string{"services", "-o", "yaml"}, `hactl: services: unknown output format "yaml", want text or json`},
		{[]string{"maintenance", "sideways"}, `hactl: maintenance: "sideways" is not on or off`},
		{[]string{"takeover", "web", "extra"}, `hactl: takeover: unexpected argument "extra"`},
		{[]string{"standby", "--timeout", "0s"}, `hactl: standby: --timeout 0s: want a positive duration`},
		{[]string{"is-master", "a", "b"}, `hactl: is-master: unexpected argument "b"`},
		{[]string{"real", "drop", "http", "198.18.0.21:80"}, `usage: hactl real [-s SOCKET | -c CONFIG] disable|enable SERVICE REAL`},
		{[]string{"real", "disable", "http", "198.18.0.21:99999"}, `hactl: real: 198.18.0.21:99999: port "99999" is not a port number (1..65535)`},
		{[]string{"real", "enable", "http", "backend1:http"}, `hactl: real: backend1:http: port "http" is not a port number (1..65535)`},
		{[]string{"peer", "forget", "lb2"}, `usage: hactl peer [-s SOCKET | -c CONFIG] reset PEER`},
	} {
		code, _, stderr := runHactl(append(tc.args, "-s", socket)...)
		first, _, _ := strings.Cut(stderr, "\n")
		if code != exitUsage || first != tc.want {
			t.Errorf("hactl %q with had down = exit %d, stderr:\n%s\nwant %d and first %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}
