package config_test

import (
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node/serviceconf"
)

// The tests read whole files, [[service]] included, with the rules had
// uses (main_test.go).
func init() { config.TestServiceRules = serviceconf.Rules{} }
