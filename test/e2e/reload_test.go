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
	p := newPair(t, pairOptions{})
	p.start("lb1")
	lb1 := p.lab.Host("lb1")
	lb1.WriteFile("had.toml", scenario.SlowerHeartbeat(pairConfig(lb1, p.opts)), 0o600)
	_, err := lb1.Hactl(p.bins, "reload") // the reason is on stderr, carried by err
	want := "reload refused, nothing changed: cluster.keepalive changed from 100ms to 200ms, which needs a restart of had (the heartbeat timing is fixed at start)"
	if code := lab.ExitCode(err); code != 1 || !strings.Contains(err.Error(), want) {
		t.Fatalf("hactl reload = exit %d (%v); want exit 1 and %q", code, err, want)
	}
	if _, err := p.status("lb1"); err != nil {
		t.Errorf("had after a refused reload: %v", err)
	}
}
