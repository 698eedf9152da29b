// Package configtest holds the had.toml fixtures that the tests of
// internal/config, of the [[service]] rules (node/serviceconf) and of
// hactl check-config build their cases on, so they read the same files
// and line numbers.
package configtest

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/testkit"
)

// Minimal is the smallest valid [cluster] and [[link]]: two nodes, one
// mcast link.
const Minimal = `[cluster]
name = "web"
id = 7
nodes = ["lb1", "lb2"]

[[link]]
kind = "mcast"
interface = "eth0"
group = "239.255.0.94"
`

// Service is a valid group + service pair to build error cases on,
// appended to Minimal: its service starts at line 19.
const Service = `
[[group]]
name = "web"
preferred = "lb1"
resources = [
  { kind = "vip", address = "198.18.0.100/24", interface = "eth0" },
  { kind = "balancer", services = ["http"] },
]

[[service]]
name = "http"
listen = "198.18.0.100:80"
reals = [ { address = "198.18.1.11:80" } ]
`

// BGP is a [bgp] table and an active-active group announcing
// 198.18.2.100 by BGP, appended to a valid config whose nodes are lb1
// and lb2.
const BGP = `
[bgp]
asn = 65001
nodes = { lb1 = "198.18.0.11/24", lb2 = "198.18.0.12/24" }
neighbors = [ { address = "198.18.0.1", asn = 65000 } ]

[[group]]
name = "edge"
mode = "active-active"
resources = [ { kind = "bgp", addresses = ["198.18.2.100"] } ]
`

// Hosts answers the host names the tests use.
var Hosts = testkit.Resolver{
	"localhost": {netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")},
	"web1":      {netip.MustParseAddr("198.18.1.21")},
	"web2":      {netip.MustParseAddr("2001:db8::22"), netip.MustParseAddr("198.18.1.22")},
	"sorry":     {netip.MustParseAddr("198.18.1.99")},
}

// WantErrors fails t unless err, a config's errors, holds every line of
// want (at least one error when want is empty).
func WantErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Parse() error = nil; want errors %q", want)
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("Parse() errors:\n%s\nwant a line containing\n%s", got, w)
		}
	}
}

// WantExactly fails t unless err's text is want, "" meaning no error.
func WantExactly(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("Parse() error:\n%v\nwant none", err)
	case want != "" && (err == nil || err.Error() != want):
		t.Errorf("Parse() error:\n%v\nwant exactly:\n%s", err, want)
	}
}
