package config

import "fmt"

// probePrograms asks h about the control socket's directory (had listens
// there at start) and every program the config names, each at its key:
// had starts none of them before it needs them (a transition, a takeover,
// a probe), so a program that cannot run would pass a start and fail
// later, every time.
func (c *conv) probePrograms(cfg *Config, h *Host) {
	if h.Socket != nil {
		if err := h.Socket(cfg.Cluster.Socket); err != nil {
			c.errorf("cluster.socket", "%v: had refuses to start", err)
		}
	}
	if h.StateDir != nil {
		if err := h.StateDir(cfg.Cluster.StateDir); err != nil {
			c.errorf("cluster.state_dir", "%v: had refuses to start", err)
		}
	}
	program := func(path, prog, what string) {
		if prog == "" || h.Program == nil {
			return
		}
		if err := h.Program(prog); err != nil {
			c.errorf(path, "%v: %s", err, what)
		}
	}
	program("cluster.notify", cfg.Cluster.Notify, "had runs it at every transition")
	for i, g := range cfg.Groups {
		gpath := idx("group", i)
		if g.Notify != cfg.Cluster.Notify {
			program(gpath+".notify", g.Notify, fmt.Sprintf("had runs it at every transition of group %q", g.Name))
		}
		for j, r := range g.Resources {
			if r.Script != nil && h.Script != nil {
				if err := h.Script(r.Script.Path); err != nil {
					c.errorf(idx(gpath+".resources", j)+".path", "%v: taking group %q over would fail", err, g.Name)
				}
			}
		}
	}
	for i, t := range cfg.Tracks {
		program(idx("track", i)+".script", t.Script, "had runs it every interval, and a run that cannot start fails: every group's priority would drop by its weight")
	}
	for i, s := range cfg.Services {
		path := idx("service", i)
		program(path+".check.program", s.Check.Program, "had runs it to probe every real: each would count as down")
		for j, m := range s.Monitors {
			program(idx(path+".monitors", j)+".script", m.Script, "had runs it every interval: the service would switch to its backups")
		}
	}
}
