package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// Test 4: hactl takeover and standby move the group both ways; is-master
// answers right on both nodes; status -o json names the owner.
func TestTakeoverStandbyAndIsMaster(t *testing.T) {
	p := runningPair(t, pairOptions{Notify: true})

	check := func(master, other string) {
		t.Helper()
		if code, out := p.isMaster(master); code != 0 || out != "master running" {
			t.Errorf("%s: is-master web = %d %q, want 0 \"master running\"", master, code, out)
		}
		if code, out := p.isMaster(other); code != 1 || out != "master stopped" {
			t.Errorf("%s: is-master web = %d %q, want 1 \"master stopped\"", other, code, out)
		}
		for _, n := range []string{master, other} {
			st, err := p.status(n)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.owner("web"); got != master {
				t.Errorf("%s: status -o json owner of web = %q, want %q", n, got, master)
			}
		}
	}
	check("lb1", "lb2")

	p.hactl("lb2", "takeover", "web")
	took := p.waitOwner("lb2", 5*time.Second)
	t.Logf("hactl takeover: lb2 alone holds the VIP after %v", took.Round(time.Millisecond))
	check("lb2", "lb1")
	// The notify hook ran on lb2's transition, with keepalived's arguments
	// and hapair's environment.
	notifyLog := filepath.Join(p.lab.Host("lb2").Dir, "notify.log")
	lab.Eventually(t, 5*time.Second, "lb2's notify hook logged its master transition", func() error {
		b, err := os.ReadFile(notifyLog)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "web master lb2 args=GROUP web master reason=") {
			return fmt.Errorf("notify.log:\n%s", b)
		}
		return nil
	})

	p.hactl("lb2", "standby")
	took = p.waitOwner("lb1", 5*time.Second)
	t.Logf("hactl standby: lb1 alone holds the VIP after %v", took.Round(time.Millisecond))
	check("lb1", "lb2")

	out, err := p.lab.Host("lb1").Hactl(p.bins, "takeover", "nope")
	if err == nil || !strings.Contains(string(out)+err.Error(), "nope") {
		t.Errorf("hactl takeover nope = %v %q, want an error naming the group", err, out)
	}
}

// Test 9: with maintenance on, a dead peer does not move the group; off,
// normal behaviour resumes.
func TestMaintenanceFreezes(t *testing.T) {
	p := runningPair(t, pairOptions{})

	p.hactl("lb2", "maintenance", "on")
	st, err := p.status("lb2")
	if err != nil || !st.Maintenance {
		t.Fatalf("lb2 status after maintenance on: %+v, %v; want maintenance shown", st, err)
	}
	p.crashOwner("lb1")
	// Frozen: lb2 must not take the group however long the peer is gone.
	// Wait for three deadtimes, by which an unfrozen node takes over.
	lab.Consistently(t, 3*deadtime, 20*time.Millisecond, "lb2 in maintenance leaves the VIP alone", func() error {
		if ok, _ := p.lab.HasAddr("lb2", vip); ok {
			return errors.New("lb2 took the VIP")
		}
		return nil
	})
	p.hactl("lb2", "maintenance", "off")
	took := p.waitHolds("lb2", 5*time.Second)
	t.Logf("maintenance off: lb2 took over from the dead lb1 after %v", took.Round(time.Millisecond))
}
