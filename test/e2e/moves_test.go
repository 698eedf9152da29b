package e2e

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// TestPlannedMovesUnderProbe is a diagnostic, skipped unless HAPAIR_MOVES
// says how many planned moves to make: the sticky HTTP service moves back
// and forth between lb1 and lb2 (HAPAIR_MOVES_BY=standby, the default:
// `hactl standby` and `hactl takeover` on lb1; =stop: SIGTERM to the
// owner's had, which is started again) under an HTTP client every 10ms,
// and every failed request is listed with the move it met. With tcpdump
// installed, the client's, lb1's and lb2's eth0 are captured into
// HAPAIR_MOVES_OUT (default: the test's temporary directory), to tell who
// answered what: `tcpdump -r client.pcap -n -e 'port PORT or arp'`.
// TestStandbyWaitsForRestartedPeer makes two moves; this one makes enough
// to see a failure that meets one move in ten.
func TestPlannedMovesUnderProbe(t *testing.T) {
	moves, _ := strconv.Atoi(os.Getenv("HAPAIR_MOVES"))
	if moves <= 0 {
		t.Skip("a diagnostic: HAPAIR_MOVES=N makes N planned moves")
	}
	moves = min(moves, 100)
	by := cmp.Or(os.Getenv("HAPAIR_MOVES_BY"), "standby")
	out := cmp.Or(os.Getenv("HAPAIR_MOVES_OUT"), t.TempDir())
	p := runningPair(t, scenario.SlowChecks)
	p.waitHTTPServed("lb1")
	if _, err := exec.LookPath("tcpdump"); err == nil {
		for _, h := range []string{"client", "lb1", "lb2"} {
			pr := p.lab.Host(h).Start([]string{"tcpdump", "-i", "eth0", "-n", "-U", "-s", "200", "-w", filepath.Join(out, h+".pcap"), "tcp port 80 or arp"})
			lab.Eventually(t, 5*time.Second, "tcpdump on "+h+" listening", func() error {
				if !strings.Contains(pr.Output(), "listening on") {
					return fmt.Errorf("tcpdump says %q", pr.Output())
				}
				return nil
			})
		}
		t.Logf("captures in %s; MACs lb1 %s, lb2 %s", out, p.lab.Host("lb1").MAC("eth0"), p.lab.Host("lb2").MAC("eth0"))
	}
	const spacing = time.Second // between moves: the client's requests around one move meet no other
	pr := p.lab.StartProbe(p.bins, "client", vipHTTP.String(), probe.Options{Proto: "http", Interval: 10 * time.Millisecond,
		Timeout: time.Second, Count: moves * 150})
	type move struct {
		at       time.Time
		from, to string
	}
	var done []move
	owner := "lb1"
	for range moves {
		time.Sleep(spacing)
		other := map[string]string{"lb1": "lb2", "lb2": "lb1"}[owner]
		done = append(done, move{time.Now(), owner, other})
		switch {
		case by == "stop":
			if err := p.had[owner].Stop(10 * time.Second); err != nil {
				t.Fatalf("stopping had on %s: %v", owner, err)
			}
			p.waitOwner(other, 5*time.Second)
			p.start(owner)
			lab.Eventually(t, 10*time.Second, other+" hears the restarted "+owner, func() error {
				if alive, err := p.peerAlive(other, owner); err != nil || !alive {
					return fmt.Errorf("%s alive %v (%v)", owner, alive, err)
				}
				return nil
			})
		case owner == "lb1":
			p.hactl("lb1", "standby")
		default:
			p.hactl("lb1", "takeover")
		}
		p.waitOwner(other, 5*time.Second)
		owner = other
	}
	res, err := pr.Result(time.Duration(moves)*3*time.Second + 30*time.Second)
	if res == nil {
		t.Fatalf("probe gave no result: %v", err)
	}
	t.Logf("%d moves by %s: %s", moves, by, res.Summary())
	met := map[int]bool{}
	for _, a := range res.Attempts {
		if a.OK {
			continue
		}
		i := len(done) - 1
		for i > 0 && done[i].at.After(a.Start) {
			i--
		}
		met[i] = true
		t.Errorf("request at %s failed %v after move %d (%s to %s at %s): %s", a.Start.Format("15:04:05.000"),
			a.Start.Sub(done[i].at).Round(time.Millisecond), i, done[i].from, done[i].to, done[i].at.Format("15:04:05.000"), a.Err)
	}
	if len(met) > 0 {
		t.Errorf("%d of %d moves failed a request", len(met), moves)
	}
}
