package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hapair/hapair/test/lab"
	"github.com/hapair/hapair/test/lab/probe"
)

// confirmStatus is the takeover timeline part of `hactl status -o json`.
type confirmStatus struct {
	Groups []struct {
		Name         string         `json:"name"`
		LastTakeover *takeoverTimes `json:"last_takeover"`
	} `json:"groups"`
}

// takeoverTimes is a takeover timeline's times.
type takeoverTimes struct {
	Started     time.Time `json:"started"`
	FirstARP    time.Time `json:"first_arp"`
	FirstPacket time.Time `json:"first_packet"`
}

// waitFirstPacket waits up to 5 s until node's takeover timeline (its
// first group's) records the first packet for the VIP, and returns it.
func waitFirstPacket(t *testing.T, p *pair, node string) *takeoverTimes {
	t.Helper()
	var tl confirmStatus
	lab.Eventually(t, 5*time.Second, node+"'s timeline records the first packet for the VIP", func() error {
		if err := p.statusInto(node, &tl); err != nil {
			return err
		}
		if len(tl.Groups) == 0 || tl.Groups[0].LastTakeover == nil || tl.Groups[0].LastTakeover.FirstPacket.IsZero() {
			return fmt.Errorf("no first packet yet: %+v", tl.Groups)
		}
		return nil
	})
	return tl.Groups[0].LastTakeover
}

// A client whose nftables rules drop the new owner's first gratuitous ARP
// burst still reaches it within 1 s of the takeover: no packet for the
// VIP arrives, so the new owner re-announces with backoff (100 ms, then
// 200 ms later...) well before the second burst (1 s), and records the
// first packet in its takeover timeline. The rule drops 8 ARP packets
// (request and reply each): the burst's 3 announcements and the first
// re-announcement, which goes out with the burst's last (both at 100 ms),
// so only the confirmation loop's second one (300 ms) can get through.
func TestTrafficConfirmationAfterLostGARP(t *testing.T) {
	p := runningPair(t, pairOptions{})
	p.waitServed(10 * time.Second)

	client := p.lab.Host("client")
	mac := p.lab.Host("lb2").MAC("eth0")
	// nftables counts most ARP packets on this hook as 44 bytes: the
	// quota matches while fewer than 370 bytes passed, the first eight.
	rule := fmt.Sprintf("arp saddr ip %s arp saddr ether %s counter quota until 370 bytes drop", vip, mac)
	for _, cmd := range [][]string{
		{"nft", "add", "table", "arp", "e2e_garp"},
		{"nft", "add", "chain", "arp", "e2e_garp", "in", "{ type filter hook input priority 0; }"},
		{"nft", "add", "rule", "arp", "e2e_garp", "in", rule},
	} {
		if out, err := client.RunFor(5*time.Second, cmd...); err != nil {
			t.Fatalf("%v: %v: %s", cmd, err, out)
		}
	}
	t.Cleanup(func() { client.RunFor(5*time.Second, "nft", "delete", "table", "arp", "e2e_garp") })

	pr := p.lab.StartProbe(p.bins, "client", vipTCP.String(), probe.Options{Proto: "tcp", Interval: 10 * time.Millisecond, Timeout: 100 * time.Millisecond, Count: 400})
	p.crashOwner("lb1")
	p.waitHolds("lb2", 5*time.Second)

	take := waitFirstPacket(t, p, "lb2")
	after := take.FirstPacket.Sub(take.Started)
	t.Logf("takeover: first gratuitous ARP after %v, first packet for the VIP after %v",
		take.FirstARP.Sub(take.Started).Round(time.Millisecond), after.Round(time.Millisecond))
	if after >= time.Second {
		t.Errorf("first packet for the VIP %v after the takeover, want < 1s (the confirmation loop, not the second burst)", after)
	}

	out, err := client.RunFor(5*time.Second, "nft", "list", "table", "arp", "e2e_garp")
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	m := regexp.MustCompile(`counter packets (\d+) bytes (\d+) quota 370 bytes used 370 bytes`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the client's rule did not use up its quota (the first burst was not dropped):\n%s", out)
	}
	if seen, _ := strconv.Atoi(string(m[1])); seen < 9 {
		t.Errorf("the client's rule saw %d ARP packets from lb2, want at least 9 (8 dropped, then one let through):\n%s", seen, out)
	}
	res, _ := pr.Result(30 * time.Second)
	if res == nil {
		t.Fatal("probe gave no result")
	}
	t.Logf("client across the crash: %s", res.Summary())
}
