package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
)

// Review 12b items 1, 2 and 6: a node in maintenance neither takes a group
// nor gives one up. A takeover of the group it holds is refused at once and
// pins nothing (the group stays when its maintenance ends); a standby
// toward it is refused at once naming the maintenance; and a stop of the
// owner, which goes ahead, leaves the VIP with no holder, which both nodes
// log as an error and the frozen node's status shows, until 'hactl
// maintenance off' there takes the group.
func TestStopWithPeerInMaintenance(t *testing.T) {
	p := runningPair(t, pairOptions{})

	// Item 2: lb1 holds web in maintenance; a takeover on lb2 is refused.
	p.hactl("lb1", "maintenance", "on")
	p.hactlRefused("lb2", `takeover of web refused: lb1 holds it in maintenance and will not release it: run "hactl maintenance off" on lb1 first`, 2*time.Second, "takeover", "web")
	p.hactl("lb1", "maintenance", "off")
	p.keepsVIP("lb1", time.Second, "after lb1's maintenance ended (no takeover pending on lb2)")

	p.hactl("lb2", "takeover", "web")
	p.waitOwner("lb2", 5*time.Second)
	p.hactl("lb1", "maintenance", "on")
	// Item 6: the standby names the maintenance.
	p.hactlRefused("lb2", `standby of web refused: lb1 is in maintenance and will not take it: run "hactl maintenance off" on lb1 first`, 2*time.Second, "standby")

	// Item 1: a stop waits a bounded time for the maintenance to end (as
	// for a peer getting ready), and hands the group over if it does.
	if err := p.had["lb2"].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog("lb2", "stopping: waiting for a peer's maintenance to end", 5*time.Second)
	p.hactl("lb1", "maintenance", "off")
	p.waitOwner("lb1", 5*time.Second)
	if err := p.had["lb2"].Wait(10 * time.Second); err != nil {
		t.Errorf("had on lb2 after SIGTERM: %v, want a clean exit", err)
	}
	if log := p.had["lb2"].Output(); strings.Contains(log, "level=ERROR") {
		t.Errorf("lb2 logged an error although lb1's maintenance ended during its stop:\n%s", log)
	}

	p.start("lb2")
	p.hactl("lb2", "takeover", "web")
	p.waitOwner("lb2", 5*time.Second)
	p.hactl("lb1", "maintenance", "on")
	// Nobody ends it: the stop goes ahead (maintenance is a freeze), loudly.
	if err := p.had["lb2"].Stop(10 * time.Second); err != nil {
		t.Fatalf("stopping had on lb2: %v", err)
	}
	if log := p.had["lb2"].Output(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "leaving: web will have no holder: lb1 is in maintenance and will not take it") {
		t.Errorf("lb2's log has no error naming web left with no holder:\n%s", log)
	}
	if hs := p.holders(); len(hs) != 0 {
		t.Errorf("VIP holders after lb2 stopped with lb1 frozen: %v, want none (maintenance keeps lb1's resources as they are)", hs)
	}
	const orphan = "web has no holder: lb2 left while this node is in maintenance"
	p.waitLog("lb1", orphan, 5*time.Second)
	if log := p.had["lb1"].Output(); !strings.Contains(log, `level=ERROR msg="`+orphan) {
		t.Errorf("lb1 logged %q, but not as an error:\n%s", orphan, log)
	}
	out := string(p.hactl("lb1", "status"))
	if !strings.Contains(out, `web has no holder: "hactl maintenance off" takes it`) {
		t.Errorf("lb1's status does not say web has no holder:\n%s", out)
	}
	p.hactl("lb1", "maintenance", "off")
	p.waitOwner("lb1", 5*time.Second)
}

// waitLog waits until node's had has logged a line containing s.
func (p *pair) waitLog(node, s string, bound time.Duration) {
	p.t.Helper()
	lab.Eventually(p.t, bound, node+" logs "+s, func() error {
		if !strings.Contains(p.had[node].Output(), s) {
			return fmt.Errorf("not logged yet")
		}
		return nil
	})
}
