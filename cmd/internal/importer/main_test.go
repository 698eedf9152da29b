package importer

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/hapair/hapair/internal/config"
)

// testHosts answers the host names of the tests and seeds from memory, so
// check-config resolves them without a DNS query leaving the machine.
type testHosts map[string]netip.Addr

func (h testHosts) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := h[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &os.PathError{Op: "lookup", Path: host, Err: os.ErrNotExist}
}

func TestMain(m *testing.M) {
	config.DefaultResolver = testHosts{
		"web1": netip.MustParseAddr("198.18.1.21"), "web2": netip.MustParseAddr("198.18.1.22"),
		// The Zeus article's back-ends (shared/seeds/000).
		"webserver1": netip.MustParseAddr("10.0.1.1"), "webserver2": netip.MustParseAddr("10.0.1.2"),
		"webserver3": netip.MustParseAddr("10.0.1.3"), "backupserver1": netip.MustParseAddr("10.0.2.1"),
		"backup2": netip.MustParseAddr("10.0.2.2"),
	}
	os.Exit(m.Run())
}
