package config

import (
	"context"
	"net/netip"
	"os"
	"testing"
)

// testResolver answers the host names the tests use, from memory: no
// test sends a DNS query off the machine.
type testResolver map[string][]netip.Addr

func (r testResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &netError{host}
}

type netError struct{ host string }

func (e *netError) Error() string { return "lookup " + e.host + ": no such host" }

var testHosts = testResolver{
	"localhost": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	"web1":      {netip.MustParseAddr("198.18.1.21")},
	"web2":      {netip.MustParseAddr("2001:db8::22"), netip.MustParseAddr("198.18.1.22")},
	"sorry":     {netip.MustParseAddr("198.18.1.99")},
}

func TestMain(m *testing.M) {
	DefaultResolver = testHosts
	os.Exit(m.Run())
}
