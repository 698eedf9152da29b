package config

import (
	"fmt"
	"os"
	"testing"

	"github.com/hapair/hapair/internal/config/configtest"
)

// testHosts answers the host names the tests use.
var testHosts = configtest.Hosts

// TestServiceRules are the [[service]] rules had reads files with
// (node/serviceconf.Rules), set by rules_test.go: node/serviceconf
// imports this package, so only an external test file can hand them in.
var TestServiceRules ServiceRules

// parse is Parse with had's rules.
func parse(data []byte, file string) (*Config, error) {
	return Parse(data, file, Options{Services: TestServiceRules})
}

// load is Load with had's rules.
func load(path string) (*Config, error) {
	return Load(path, Options{Services: TestServiceRules})
}

func TestMain(m *testing.M) {
	if TestServiceRules == nil {
		fmt.Fprintln(os.Stderr, "config tests: TestServiceRules not set (rules_test.go)")
		os.Exit(2)
	}
	DefaultResolver = testHosts
	os.Exit(m.Run())
}
