package node

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/testkit"
)

// A reload keeps the last address of a name that stopped resolving, logs
// it, takes a new address when the name resolves, and fails for a name it
// never resolved.
func TestLastKnownAddress(t *testing.T) {
	prev := &config.Config{Services: []config.Service{{
		Reals:        []config.Real{{Address: netip.MustParseAddrPort("198.18.1.21:80"), Host: "web1"}},
		Backups:      []config.Real{{Address: netip.MustParseAddrPort("198.18.1.31:80"), Host: "spare"}},
		Fallback:     netip.MustParseAddrPort("198.18.1.99:80"),
		FallbackHost: "sorry",
	}}}
	var logs testkit.Buffer
	l := lastKnown{prev: prev, next: testkit.Resolver{"web2": {netip.MustParseAddr("198.18.1.22")}, "web1": {netip.MustParseAddr("198.18.1.41")}}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := context.Background()
	for host, want := range map[string]string{"web1": "198.18.1.41", "web2": "198.18.1.22"} {
		if a, err := l.LookupNetIP(ctx, "ip", host); err != nil || len(a) != 1 || a[0].String() != want {
			t.Errorf("LookupNetIP(%q) = %v, %v, want %s (it resolves)", host, a, err, want)
		}
	}
	l.next = testkit.Resolver{}
	for host, want := range map[string]string{"web1": "198.18.1.21", "spare": "198.18.1.31", "sorry": "198.18.1.99"} {
		if a, err := l.LookupNetIP(ctx, "ip", host); err != nil || len(a) != 1 || a[0].String() != want {
			t.Errorf("LookupNetIP(%q) = %v, %v, want the last address %s", host, a, err, want)
		}
	}
	if got := logs.String(); !strings.Contains(got, "keeping its last address") {
		t.Errorf("log = %q, want a warning", got)
	}
	if _, err := l.LookupNetIP(ctx, "ip", "web9"); err == nil {
		t.Error("LookupNetIP(web9) = nil error, want the lookup's error for a name with no last address")
	}
}
