package config

import (
	"net/netip"
	"os"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
)

// testHosts answers the host names the tests use.
var testHosts = testkit.Resolver{
	"localhost": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	"web1":      {netip.MustParseAddr("198.18.1.21")},
	"web2":      {netip.MustParseAddr("2001:db8::22"), netip.MustParseAddr("198.18.1.22")},
	"sorry":     {netip.MustParseAddr("198.18.1.99")},
}

func TestMain(m *testing.M) {
	DefaultResolver = testHosts
	os.Exit(m.Run())
}
