package node

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/hapair/hapair/internal/config"
)

// plan is what a reload from one config to the next would do.
type plan struct {
	lines         []string        // the changes, one line each (hactl reload prints them)
	restart       []string        // changes that need a restart of had, each a sentence
	changedGroups map[string]bool // groups whose resources are rebuilt
}

// planReload compares the config in force, a, with the next one, b.
func planReload(a, b *config.Config) plan {
	lines, changed := diffConfigs(a, b)
	return plan{lines: lines, restart: restartReasons(a, b), changedGroups: changed}
}

// refusal is the error of a reload that needs a restart: every change that
// needs one, as a sentence, e.g. "reload refused, nothing changed:
// cluster.keepalive changed from 100ms to 200ms, which needs a restart of
// had (the heartbeat timing is fixed at start)".
func (p plan) refusal() error {
	return fmt.Errorf("reload refused, nothing changed: %s", strings.Join(p.restart, "; "))
}

// diffConfigs lists what a reload from a to b would change live, and which
// groups' resources changed (restartReasons says what it cannot change).
func diffConfigs(a, b *config.Config) (lines []string, changedGroups map[string]bool) {
	changedGroups = map[string]bool{}
	ga, gb := groupsByName(a), groupsByName(b)
	for _, name := range slices.Sorted(maps.Keys(gb)) {
		og, ok := ga[name]
		ng := gb[name]
		if !ok {
			continue
		}
		if !reflect.DeepEqual(og.Resources, ng.Resources) {
			changedGroups[name] = true
			lines = append(lines, fmt.Sprintf("group %s: resources changed (restarted where held)", name))
			va, vb := vipSet(og), vipSet(ng)
			for _, v := range slices.Sorted(maps.Keys(vb)) {
				if !va[v] {
					lines = append(lines, fmt.Sprintf("  vip + %s", v))
				}
			}
			for _, v := range slices.Sorted(maps.Keys(va)) {
				if !vb[v] {
					lines = append(lines, fmt.Sprintf("  vip - %s", v))
				}
			}
		}
	}
	lines = append(lines, diffServices(a.Services, b.Services)...)
	return lines, changedGroups
}

func diffServices(a, b []config.Service) []string {
	var lines []string
	sa, sb := map[string]config.Service{}, map[string]config.Service{}
	for _, s := range a {
		sa[s.Name] = s
	}
	for _, s := range b {
		sb[s.Name] = s
	}
	for _, name := range slices.Sorted(maps.Keys(sb)) {
		ns := sb[name]
		os, ok := sa[name]
		if !ok {
			lines = append(lines, fmt.Sprintf("service + %s %s/%s", name, ns.Listen, ns.Protocol))
			continue
		}
		if serviceSettings(os) != serviceSettings(ns) {
			lines = append(lines, fmt.Sprintf("service %s: settings changed", name))
		}
		lines = append(lines, diffReals(name, "real", os.Reals, ns.Reals)...)
		lines = append(lines, diffReals(name, "backup", os.Backups, ns.Backups)...)
	}
	for _, name := range slices.Sorted(maps.Keys(sa)) {
		if _, ok := sb[name]; !ok {
			lines = append(lines, fmt.Sprintf("service - %s %s/%s", name, sa[name].Listen, sa[name].Protocol))
		}
	}
	return lines
}

// serviceSettings renders everything of a service but its reals, so two
// versions compare by value (regexps compare by pointer otherwise).
func serviceSettings(s config.Service) string {
	c := s.Check
	recv := ""
	if c.Receive != nil {
		recv = c.Receive.String()
	}
	c.Receive = nil
	return fmt.Sprintf("%v|%s|%s|%s|%s|%v|%v|%v|%v|%v|%+v|%q|%+v", s.Listen, s.Protocol, s.Mode, s.Scheduler,
		s.Persistent, s.Quiescent, s.Fallback, s.ConnectTimeout, s.IdleTimeout, s.Monitors, c, recv, len(s.Backups) > 0)
}

func diffReals(service, kind string, a, b []config.Real) []string {
	var lines []string
	wa, wb := map[string]int{}, map[string]int{}
	for _, r := range a {
		wa[r.Address.String()] = r.Weight
	}
	for _, r := range b {
		wb[r.Address.String()] = r.Weight
	}
	for _, addr := range slices.Sorted(maps.Keys(wb)) {
		ow, ok := wa[addr]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("service %s: %s + %s weight %d", service, kind, addr, wb[addr]))
		case ow != wb[addr]:
			lines = append(lines, fmt.Sprintf("service %s: %s %s weight %d -> %d", service, kind, addr, ow, wb[addr]))
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(wa)) {
		if _, ok := wb[addr]; !ok {
			lines = append(lines, fmt.Sprintf("service %s: %s - %s", service, kind, addr))
		}
	}
	return lines
}

func groupsByName(c *config.Config) map[string]config.Group {
	m := make(map[string]config.Group, len(c.Groups))
	for _, g := range c.Groups {
		m[g.Name] = g
	}
	return m
}

func vipSet(g config.Group) map[string]bool {
	m := map[string]bool{}
	for _, r := range g.Resources {
		if r.VIP != nil {
			m[r.VIP.Prefix.String()] = true
		}
	}
	return m
}
