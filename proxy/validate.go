package proxy

// Validate reports whether New and Reload would accept cfg, with the same
// defaults and checks, without binding or starting anything (had --check
// and hactl check-config build the node dry with it).
func (cfg Config) Validate() error {
	_, err := prepare(cfg)
	return err
}
