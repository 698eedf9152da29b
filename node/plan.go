package node

import (
	"fmt"
	"reflect"
	"slices"
	"sort"

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
	lines, restart, changed := diffConfigs(a, b)
	if (len(a.Services) == 0) != (len(b.Services) == 0) {
		restart = append(restart, "services added to or removed from a config without any")
	}
	return plan{lines: lines, restart: restart, changedGroups: changed}
}

// refusal is the error of a reload that needs a restart.
func (p plan) refusal() error {
	return fmt.Errorf("reload refused, nothing changed: %v %s; restart had to apply it", p.restart, verbPlural(len(p.restart)))
}

func verbPlural(n int) string {
	if n == 1 {
		return "needs"
	}
	return "need"
}

// diffConfigs lists what a reload from a to b would change, what it cannot
// change without a restart, and which groups' resources changed.
func diffConfigs(a, b *config.Config) (lines, restart []string, changedGroups map[string]bool) {
	if !reflect.DeepEqual(a.Cluster, b.Cluster) {
		restart = append(restart, "[cluster]")
	}
	if !reflect.DeepEqual(a.Links, b.Links) {
		restart = append(restart, "[[link]]")
	}
	if !reflect.DeepEqual(a.Pings, b.Pings) || !reflect.DeepEqual(a.Tracks, b.Tracks) {
		restart = append(restart, "[[ping]]/[[track]]")
	}
	changedGroups = map[string]bool{}
	ga, gb := groupsByName(a), groupsByName(b)
	if !slices.Equal(sortedKeys(ga), sortedKeys(gb)) {
		restart = append(restart, "the set of groups")
	}
	for _, name := range sortedKeys(gb) {
		og, ok := ga[name]
		ng := gb[name]
		if !ok {
			continue
		}
		if og.Preferred != ng.Preferred || !reflect.DeepEqual(og.Priorities, ng.Priorities) ||
			og.AutoFailback != ng.AutoFailback || og.Notify != ng.Notify {
			restart = append(restart, fmt.Sprintf("group %s ownership settings or notify hook", name))
		}
		if !reflect.DeepEqual(og.Resources, ng.Resources) {
			changedGroups[name] = true
			lines = append(lines, fmt.Sprintf("group %s: resources changed (restarted where held)", name))
			va, vb := vipSet(og), vipSet(ng)
			for _, v := range sortedKeys(vb) {
				if !va[v] {
					lines = append(lines, fmt.Sprintf("  vip + %s", v))
				}
			}
			for _, v := range sortedKeys(va) {
				if !vb[v] {
					lines = append(lines, fmt.Sprintf("  vip - %s", v))
				}
			}
		}
	}
	lines = append(lines, diffServices(a.Services, b.Services)...)
	return lines, restart, changedGroups
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
	for _, name := range sortedKeys(sb) {
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
	for _, name := range sortedKeys(sa) {
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
	for _, addr := range sortedKeys(wb) {
		ow, ok := wa[addr]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("service %s: %s + %s weight %d", service, kind, addr, wb[addr]))
		case ow != wb[addr]:
			lines = append(lines, fmt.Sprintf("service %s: %s %s weight %d -> %d", service, kind, addr, ow, wb[addr]))
		}
	}
	for _, addr := range sortedKeys(wa) {
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
