package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// vipBound is how long a VIP may outlive a killed had: the vip resource's
// kernel lifetime (ha/vip DefaultLifetime, 4s) plus the kernel's one-second
// granularity in expiring addresses.
const vipBound = 5 * time.Second

// Issue 9 case 2: a second had on the node that holds the VIP refuses
// before it touches anything (the node lock is taken first), and the VIP
// stays where it is.
func TestSecondHadRefusesAndVIPStays(t *testing.T) {
	p := runningPair(t, pairOptions{})

	h := p.lab.Host("lb1")
	cfg := pairConfig(h, p.opts)
	cfg = strings.Replace(cfg, h.Dir+"/state", h.Dir+"/state2", 1)
	cfg = strings.Replace(cfg, h.HadSocket(), h.Dir+"/had2.sock", 1)
	path := h.WriteFile("had2.toml", cfg, 0o600)
	second := h.Start([]string{p.bins.Had, "-c", path, "--node", "lb1"})
	err := second.Wait(10 * time.Second)
	if err == nil {
		t.Fatalf("second had on lb1 exited 0, want a refusal; output:\n%s", second.Output())
	}
	if out := second.Output(); !strings.Contains(out, `another had for cluster "e2e" (id 42) runs on this node`) {
		t.Errorf("second had's output does not name the running one:\n%s", out)
	}
	if hs := p.holders(); len(hs) != 1 || hs[0] != "lb1" {
		t.Fatalf("VIP holders after the second had refused = %v, want [lb1]", hs)
	}
	st, err := p.status("lb1")
	if err != nil || !st.master("web") {
		t.Fatalf("lb1 after the second had refused: %+v, %v, want master", st, err)
	}
}

// Issue 9 case 3: a VIP equal to the host's own address is neither taken
// over nor removed: lb1 keeps its address (and its links) at start, and
// when the group fails to start there, it names the reason.
func TestHostAddressNeverRemoved(t *testing.T) {
	own := netip.MustParseAddr("198.18.0.11") // lb1's eth0
	p := newPair(t, pairOptions{ExtraGroup: scenario.HostAddressVIP})
	p.start("lb1")
	p.start("lb2")
	// lb1 prefers the group, fails to take its own address as a VIP,
	// rolls back and hands the group to lb2.
	lab.Eventually(t, 15*time.Second, "lb2 owns the group after lb1 refused the host's address", func() error {
		st, err := p.status("lb2")
		if err != nil {
			return err
		}
		if !st.master("web") {
			return fmt.Errorf("lb2 groups: %+v", st.Groups)
		}
		return nil
	})
	ok, err := p.lab.HasAddr("lb1", own)
	if err != nil || !ok {
		t.Fatalf("lb1's own address %v after start: present %v, %v; want kept", own, ok, err)
	}
	if p.had["lb1"].Exited() {
		t.Fatalf("had on lb1 exited:\n%s", p.had["lb1"].Output())
	}
	if out := p.had["lb1"].Output(); !strings.Contains(out, "not added by hapair") {
		t.Errorf("lb1's log does not say why it left the address alone:\n%s", out)
	}
	// lb1's links still work: it sees lb2 alive.
	lab.Eventually(t, 5*time.Second, "lb1 hears lb2", func() error {
		st, err := p.status("lb1")
		if err != nil {
			return err
		}
		if st.owner("web") != "lb2" {
			return fmt.Errorf("lb1 sees owner %q", st.owner("web"))
		}
		return nil
	})
}

// Issue 9 case 15: had alone is killed on the owner (the node stays up and
// plugged in): lb2 takes over, and the VIP leaves lb1 by itself within the
// documented bound, so the two do not answer ARP for it side by side.
func TestKilledOwnersVIPExpires(t *testing.T) {
	p := runningPair(t, pairOptions{})
	killed := time.Now()
	if err := p.had["lb1"].Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitHolds("lb2", 5*time.Second)
	gone := lab.Eventually(t, vipBound+2*time.Second, "the VIP leaves lb1", func() error {
		ok, err := p.lab.HasAddr("lb1", vip)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("lb1 still holds %v", vip)
		}
		return nil
	})
	after := time.Since(killed)
	t.Logf("VIP left lb1 %v after SIGKILL (%v after the wait began; bound %v)", after.Round(time.Millisecond), gone.Round(time.Millisecond), vipBound)
	if after > vipBound+time.Second {
		t.Errorf("VIP left lb1 %v after SIGKILL, want within %v (+1s for the test's polling)", after, vipBound)
	}
	if hs := p.holders(); len(hs) != 1 || hs[0] != "lb2" {
		t.Errorf("VIP holders = %v, want [lb2]", hs)
	}
}

// Issue 9 case 1: the owner's VIP interface goes down while the heartbeat
// link on eth1 stays up: lb1 sees it (rtnetlink link event), gives the
// group up, lb2 owns it within deadtime + 1s, and lb1's status names the
// reason.
func TestInterfaceDownHandsOver(t *testing.T) {
	p := runningPair(t, pairOptions{})
	down := time.Now()
	if out, err := p.lab.Host("lb1").RunFor(10*time.Second, "ip", "link", "set", "eth0", "down"); err != nil {
		t.Fatalf("ip link set eth0 down on lb1: %v: %s", err, out)
	}
	p.waitHolds("lb2", deadtime+time.Second)
	t.Logf("lb2 held the group %v after lb1's eth0 went down (deadtime %v)", time.Since(down).Round(time.Millisecond), deadtime)
	st, err := p.status("lb1")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range st.Groups {
		if g.Name == "web" && !strings.Contains(g.Reason, "interface eth0 down") {
			t.Errorf("lb1's status for web: %q, want the reason %q", g.Reason, "interface eth0 down")
		}
	}
}

// The owner repairs what it can: a held VIP deleted by hand comes back at
// once (address event, not the next refresh), logged and in the timeline.
func TestRemovedVIPIsRepaired(t *testing.T) {
	p := runningPair(t, pairOptions{})
	if out, err := p.lab.Host("lb1").RunFor(10*time.Second, "ip", "addr", "del", "198.18.0.100/24", "dev", "eth0"); err != nil {
		t.Fatalf("ip addr del on lb1: %v: %s", err, out)
	}
	deleted := time.Now()
	lab.Eventually(t, 2*time.Second, "the VIP back on lb1", func() error {
		ok, err := p.lab.HasAddr("lb1", vip)
		if err != nil || !ok {
			return fmt.Errorf("VIP on lb1: %v, %v", ok, err)
		}
		return nil
	})
	t.Logf("VIP back on lb1 %v after it was deleted", time.Since(deleted).Round(time.Millisecond))
	out, err := p.lab.Host("lb1").Hactl(p.bins, "status", "-o", "json")
	if err != nil || !strings.Contains(string(out), "removed while held; adding it back") {
		t.Errorf("lb1's status timeline has no repair entry (%v):\n%s", err, out)
	}
	if st, err := p.status("lb1"); err != nil || !st.master("web") {
		t.Errorf("lb1 after the repair: %+v, %v; want still master", st, err)
	}
}

// Issue 9 case 5: every verb waits for the daemon's outcome. A takeover
// returns once the group is held here; a standby no peer can take, or a
// takeover in maintenance, exits non-zero with the daemon's reason.
func TestVerbsReportOutcome(t *testing.T) {
	p := runningPair(t, pairOptions{})
	lb2 := p.lab.Host("lb2")

	out, err := lb2.Hactl(p.bins, "takeover", "web")
	if err != nil || !strings.Contains(string(out), "held here") {
		t.Fatalf("hactl takeover web on lb2 = %v: %s, want success once held", err, out)
	}
	// No waiting here: hactl returned after the outcome.
	if st, err := p.status("lb2"); err != nil || !st.master("web") {
		t.Fatalf("lb2 right after hactl takeover returned: %+v, %v; want master", st, err)
	}

	if err := p.had["lb1"].Stop(10 * time.Second); err != nil {
		t.Fatalf("stopping had on lb1: %v", err)
	}
	out, err = lb2.Hactl(p.bins, "standby")
	if code := lab.ExitCode(err); code != 1 || !strings.Contains(string(out)+fmt.Sprint(err), "no live peer can hold it") {
		t.Errorf("hactl standby with no live peer = exit %d (%v): %s; want 1 and the reason", code, err, out)
	}
	p.hactl("lb2", "maintenance", "on")
	out, err = lb2.Hactl(p.bins, "takeover")
	if code := lab.ExitCode(err); code != 1 || !strings.Contains(string(out)+fmt.Sprint(err), "maintenance") {
		t.Errorf("hactl takeover in maintenance = exit %d (%v): %s; want 1 and the reason", code, err, out)
	}
}

// Issue 9 case 4: lb2's state directory is lost while lb1 remembers a
// higher generation. lb1's status names the cause ("dropping lb2:
// generation X < Y") and, after `hactl peer reset lb2`, hears lb2 again.
func TestPeerResetAfterLostStateDir(t *testing.T) {
	p := newPair(t, pairOptions{})
	lb2 := p.lab.Host("lb2")
	// A generation far above the clock's, as if lb2 had once run with a
	// clock years ahead; losing the directory then sends it back.
	if out, err := lb2.RunFor(10*time.Second, "install", "-d", "-m", "0700", lb2.Dir+"/state"); err != nil {
		t.Fatalf("making lb2's state directory: %v: %s", err, out)
	}
	lb2.WriteFile("state/generation", "99999999999\n", 0o600)
	p.up()
	if err := p.had["lb2"].Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if out, err := lb2.RunFor(10*time.Second, "rm", "-rf", lb2.Dir+"/state"); err != nil {
		t.Fatalf("wiping lb2's state directory: %v: %s", err, out)
	}
	p.start("lb2")
	lb1 := p.lab.Host("lb1")
	lab.Eventually(t, 5*time.Second, "lb1's status names the drop cause", func() error {
		out, err := lb1.Hactl(p.bins, "status")
		if err != nil {
			return err
		}
		if !strings.Contains(string(out), "dropping lb2: generation ") || !strings.Contains(string(out), " < 100000000000") {
			return fmt.Errorf("status:\n%s", out)
		}
		return nil
	})
	p.hactl("lb1", "peer", "reset", "lb2")
	lab.Eventually(t, 5*time.Second, "lb1 hears lb2 again", func() error {
		out, err := lb1.Hactl(p.bins, "status", "-o", "json")
		if err != nil {
			return err
		}
		var st struct {
			Peers []struct {
				Name     string `json:"name"`
				Alive    bool   `json:"alive"`
				Dropping string `json:"dropping"`
			} `json:"peers"`
		}
		if err := json.Unmarshal(out, &st); err != nil {
			return err
		}
		if len(st.Peers) != 1 || !st.Peers[0].Alive || st.Peers[0].Dropping != "" {
			return fmt.Errorf("peers: %+v", st.Peers)
		}
		return nil
	})
	if out := p.had["lb1"].Output(); !strings.Contains(out, "operator reset the replay state of peer lb2") {
		t.Errorf("lb1's log has no line for the operator's reset")
	}
}

// Issue 9 case 6: had runs with 300 descriptors and a client holds 400
// idle connections to the balanced service. The balancer-wide maxconn
// (derived from the descriptor limit, like HAProxy's) keeps clients from
// using them all, so hactl still answers at once and accept errors, if
// any, are paced and logged a few times, not a million.
func TestDescriptorShortage(t *testing.T) {
	p := newPair(t, pairOptions{})
	h := p.lab.Host("lb1")
	h.WriteFile("authkeys", testAuthkeys, 0o600)
	cfg := h.WriteFile("had.toml", pairConfig(h, p.opts), 0o600)
	p.had["lb1"] = h.Start([]string{"prlimit", "--nofile=300:300", "--", p.bins.Had, "-c", cfg, "--node", "lb1"})
	lab.Eventually(t, 10*time.Second, "lb1 answers hactl status", func() error {
		_, err := p.status("lb1")
		return err
	})
	p.start("lb2")
	p.waitOwner("lb1", 10*time.Second)
	p.waitServed(10 * time.Second)

	holder := p.lab.Host("client").Start([]string{p.bins.Labprobe, "-target", vipTCP.String(), "-hold", "400", "-timeout", "2s", "-duration", "20s"})
	lab.Eventually(t, 15*time.Second, "the client holds 400 connections", func() error {
		if !strings.Contains(holder.Output(), "held 400") {
			return fmt.Errorf("labprobe: %s", holder.Output())
		}
		return nil
	})
	for i := range 5 {
		begin := time.Now()
		st, err := p.status("lb1")
		took := time.Since(begin)
		if err != nil || !st.master("web") {
			t.Fatalf("hactl status on lb1 under 400 held connections: %v, %+v", err, st)
		}
		if took > 2*time.Second {
			t.Errorf("hactl status %d took %v, want under 2s", i, took)
		}
	}
	out := p.had["lb1"].Output()
	if n := strings.Count(out, "accept failed"); n > 5 {
		t.Errorf("lb1 logged %d accept failures, want a rate-limited few", n)
	}
	t.Logf("lb1 under 400 held connections with 300 descriptors: hactl answers, %d accept-failure lines logged", strings.Count(out, "accept failed"))
}

// Issue 9 case 13: an idle client on the control socket does not delay
// had's exit after SIGTERM (it took up to 30 s): had exits within a second
// of handing its groups over.
func TestIdleControlClientDoesNotDelayExit(t *testing.T) {
	p := runningPair(t, pairOptions{})
	idle, err := net.Dial("unix", p.lab.Host("lb1").HadSocket())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Accepts are served in order: once this answers, the idle client is
	// accepted and being read from.
	if _, err := p.status("lb1"); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := p.had["lb1"].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.had["lb1"].Wait(10 * time.Second); err != nil {
		t.Fatalf("had on lb1 after SIGTERM: %v", err)
	}
	took := time.Since(begin)
	t.Logf("had on lb1 exited %v after SIGTERM with an idle control client", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("exit took %v with an idle control client, want the handover plus at most 1s", took)
	}
}
