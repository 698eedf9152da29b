package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzLoad feeds arbitrary files to Parse: it must never panic, every error
// must carry the file name and a line, and an accepted config must satisfy
// the invariants validation promises.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + svc))
	for _, name := range []string{"../../deploy/web-pair.toml", "../../deploy/sip-pair.toml", "testdata/ultramonkey.toml"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse(data, "fuzz.toml")
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("Parse() error = %#v, want a non-empty Errors", err)
			}
			for _, e := range es {
				if e.Pos.File != "fuzz.toml" || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
					t.Fatalf("Parse() error entry %#v: want file fuzz.toml, line and column >= 1, a message", e)
				}
			}
			return
		}
		cl := cfg.Cluster
		if len(cl.Nodes) < 2 || cl.ID < 1 || cl.ID > 255 || len(cfg.Links) == 0 {
			t.Fatalf("Parse() accepted nodes %q, id %d, %d links", cl.Nodes, cl.ID, len(cfg.Links))
		}
		if _, reps := cl.RepairTimers(); len(reps) > 0 || cl.Keepalive <= 0 {
			t.Fatalf("Parse() accepted keepalive %s, warntime %s, deadtime %s, initdead %s, which ha's timer rules refuse: %+v", cl.Keepalive, cl.Warntime, cl.Deadtime, cl.Initdead, reps)
		}
		for _, s := range cfg.Services {
			if !s.Listen.IsValid() || s.Check.Type == "" {
				t.Fatalf("Parse() accepted service %q with listen %s, check type %q", s.Name, s.Listen, s.Check.Type)
			}
		}
	})
}
