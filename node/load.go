package node

import (
	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/internal/config"
)

// Load reads the config at path, finds this node's name (node overrides the
// host name), and reads the authkeys file the config names, as had does at
// start: authkeys.Load checks the mode (0600), the owner, that it is a
// regular file, and its format. The warnings come from authkeys (legacy
// methods, short secrets). A config error is a config.Errors, and so is
// an authkeys error, placed at cluster.authkeys (config.AuthkeysError):
// it names the file, and for a bad mode the mode and the chmod that fixes
// it.
func Load(path, node string) (*config.Config, *authkeys.Keyring, []string, error) {
	cfg, err := config.Load(path)
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
