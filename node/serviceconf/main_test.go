package serviceconf

import (
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/config/configtest"
)

// minimal and svc are internal/config's fixtures (configtest): a cluster
// with one link, and a group activating one service.
const (
	minimal = configtest.Minimal
	svc     = configtest.Service
)

// parse reads text, named file in positions, as had does: with these
// rules, host names answered by configtest.Hosts.
func parse(text, file string) (*config.Config, error) {
	return config.Parse([]byte(text), file, config.Options{Services: Rules{}, Resolver: configtest.Hosts})
}
