package e2e

import (
	"strings"
	"testing"

	"github.com/hapair/hapair/test/e2e/scenario"
	"github.com/hapair/hapair/test/lab"
)

// A reload with a change had cannot take is refused with a sentence naming
// the change and why it needs a restart, nothing changes, and hactl exits
// 1: what `systemctl reload had` (ExecReload=hactl reload) reports.
func TestReloadRefused(t *testing.T) {
	refusesReload(t, scenario.SlowerHeartbeat,
		"reload refused, nothing changed: cluster.keepalive changed from 100ms to 200ms, which needs a restart of had (the heartbeat timing is fixed at start)")
}

// A reload is compared with the host as the check on the node is: a VIP
// moved to an interface lb1 lacks is refused at its key, nothing changes
// (it used to pass, and the next takeover failed).
func TestReloadRefusesWhatTheHostLacks(t *testing.T) {
	refusesReload(t, func(cfg string) string {
		edited := strings.Replace(cfg, `address = "198.18.0.100/24", interface = "eth0" }`, `address = "198.18.0.100/24", interface = "hapair-none0" }`, 1)
		if edited == cfg {
			t.Fatal("the pair config has no VIP 198.18.0.100/24 on eth0 to edit")
		}
		return edited
	}, `group[0].resources[0].interface: interface "hapair-none0" is not on this host`)
}

// refusesReload starts had on lb1, writes edit of its config and checks
// that `hactl reload` exits 1 with want in its stderr (carried by its
// error) and that had still answers.
func refusesReload(t *testing.T, edit func(cfg string) string, want string) {
	t.Helper()
	p := newPair(t, pairOptions{})
	p.start("lb1")
	lb1 := p.lab.Host("lb1")
	lb1.WriteFile("had.toml", edit(pairConfig(lb1, p.opts)), 0o600)
	_, err := lb1.Hactl(p.bins, "reload")
	if code := lab.ExitCode(err); code != 1 || !strings.Contains(err.Error(), want) {
		t.Fatalf("hactl reload = exit %d (%v); want exit 1 and %q", code, err, want)
	}
	if _, err := p.status("lb1"); err != nil {
		t.Errorf("had after a refused reload: %v", err)
	}
}
