package node

import (
	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node/serviceconf"
)

// LoadConfig reads and validates the config at path as had, `had --check`
// and `hactl check-config` do: internal/config's sections with the
// balancer's [[service]] rules (node/serviceconf). A config error is a
// config.Errors.
func LoadConfig(path string) (*config.Config, error) {
	return config.Load(path, configOptions(nil, nil))
}

// configOptions are the options every load of a config takes: the
// [[service]] rules, and r (nil: the system resolver) and h (nil: ask
// nothing).
func configOptions(r config.Resolver, h *config.Host) config.Options {
	return config.Options{Services: serviceconf.Rules{}, Resolver: r, Host: h}
}

// Load reads the config at path, finds this node's name (node overrides the
// host name), and reads the authkeys file the config names, as had does at
// start: authkeys.Load checks the mode (0600), the owner, that it is a
// regular file, and its format. The warnings come from authkeys (legacy
// methods, short secrets). A config error is a config.Errors, and so is
// an authkeys error, placed at cluster.authkeys (config.AuthkeysError):
// it names the file, and for a bad mode the mode and the chmod that fixes
// it.
func Load(path, node string) (*config.Config, *authkeys.Keyring, []string, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := cfg.Self(node); err != nil {
		return nil, nil, nil, err
	}
	kr, warns, err := authkeys.Load(cfg.Cluster.Authkeys)
	warns = append(cfg.Warnings(), warns...)
	if err != nil {
		return nil, nil, warns, cfg.AuthkeysError(err)
	}
	return cfg, kr, warns, nil
}
