package node

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hapair/hapair/ha"
	"github.com/hapair/hapair/ha/ping"
	"github.com/hapair/hapair/ha/script"
	"github.com/hapair/hapair/internal/config"
)

// groupNotify returns the notify hook program of each group ("" = none):
// the group's own, else the cluster's.
func groupNotify(cfg *config.Config) map[string]string {
	m := make(map[string]string, len(cfg.Groups))
	for _, g := range cfg.Groups {
		prog := cfg.Cluster.Notify
		if g.Notify != "" {
			prog = g.Notify
		}
		m[g.Name] = prog
	}
	return m
}

// buildNotifiers makes one notifier per hook program, shared by the groups
// that name it. NewNotifier only checks the program; nothing runs yet.
// With noHost (a dry run for another machine) it makes none: the program
// is on that machine, and config checked its path.
func buildNotifiers(cfg *config.Config, self string, log *slog.Logger, noHost bool) (map[string]*script.Notifier, error) {
	if noHost {
		return map[string]*script.Notifier{}, nil
	}
	byProg := map[string]*script.Notifier{}
	out := map[string]*script.Notifier{}
	for group, prog := range groupNotify(cfg) {
		if prog == "" {
			continue
		}
		n, ok := byProg[prog]
		if !ok {
			var err error
			n, err = script.NewNotifier(script.NotifySpec{Program: prog, Node: self, Logger: log})
			if err != nil {
				return nil, fmt.Errorf("notify hook of group %q: %w", group, err)
			}
			byProg[prog] = n
		}
		out[group] = n
	}
	return out, nil
}

// closeNotifiers waits (bounded by ctx) for hooks still running.
func closeNotifiers(ctx context.Context, ns map[string]*script.Notifier) {
	closed := map[*script.Notifier]bool{}
	for _, n := range ns {
		if !closed[n] {
			closed[n] = true
			n.Close(ctx)
		}
	}
}

type notifierFunc func(group string, state ha.State, reason string)

func (f notifierFunc) Notify(group string, state ha.State, reason string) { f(group, state, reason) }

// buildChecks makes the ping-node and track checks. ping.NewICMP opens
// no socket until the first probe, so a dry run builds them too.
func buildChecks(cfg *config.Config) ([]*ping.Check, error) {
	var specs []ping.Spec
	if len(cfg.Pings) > 0 {
		pinger := ping.NewICMP(0)
		for _, p := range cfg.Pings {
			specs = append(specs, ping.Spec{Name: pingName(p.Address), Probe: ping.PingProbe(pinger, p.Address), Interval: p.Interval, Timeout: p.Timeout})
		}
	}
	for _, t := range cfg.Tracks {
		specs = append(specs, ping.Spec{Name: trackName(t.Name), Probe: ping.TrackProbe(t.Script, t.Args), Interval: t.Interval, Timeout: t.Timeout})
	}
	var ms []*ping.Check
	for _, s := range specs {
		m, err := ping.NewCheck(s)
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", s.Name, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}
