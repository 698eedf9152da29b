package node

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

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
		for _, c := range settingChanges("", reflect.ValueOf(os), reflect.ValueOf(ns)) {
			lines = append(lines, fmt.Sprintf("service %s: %s", name, c))
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

// settingChanges names each setting that differs between a and b, two
// config.Service (or config.Check) values, by its key: "maxconn 0 -> 100",
// "check.receive "ok" -> "OK"". Every field takes part, so a setting added
// to config.Service is diffed (and so applied by a reload) without an edit
// here; only the name and the pools, which diffReals lists, are left out.
// Regexps compare by their text, not their pointers.
func settingChanges(prefix string, a, b reflect.Value) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		switch f.Name {
		case "Name", "Reals", "Backups", "FallbackHost":
			continue
		}
		key := prefix + tomlKey(f.Name)
		if f.Type == reflect.TypeOf(config.Check{}) {
			out = append(out, settingChanges(key+".", a.Field(i), b.Field(i))...)
			continue
		}
		if x, y := settingValue(a.Field(i)), settingValue(b.Field(i)); x != y {
			out = append(out, fmt.Sprintf("%s %s -> %s", key, x, y))
		}
	}
	return out
}

// tomlKey is the had.toml key of a config.Service or config.Check field:
// ConnectTimeout is connect_timeout; MaxConn is HAProxy's maxconn.
func tomlKey(field string) string {
	if field == "MaxConn" {
		return "maxconn"
	}
	var b strings.Builder
	for i, r := range field {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// settingValue renders a setting for a diff line: strings and regexps
// quoted ("" for none), anything with a String method by it.
func settingValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case string:
		return strconv.Quote(x)
	case *regexp.Regexp:
		if x == nil {
			return `""`
		}
		return strconv.Quote(x.String())
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprintf("%+v", v.Interface())
}

func diffReals(service, kind string, a, b []config.Real) []string {
	var lines []string
	wa, wb := map[string]config.Real{}, map[string]config.Real{}
	for _, r := range a {
		wa[r.Address.String()] = r
	}
	for _, r := range b {
		wb[r.Address.String()] = r
	}
	for _, addr := range slices.Sorted(maps.Keys(wb)) {
		or, ok := wa[addr]
		nr := wb[addr]
		if !ok {
			lines = append(lines, fmt.Sprintf("service %s: %s + %s weight %d", service, kind, addr, nr.Weight))
			continue
		}
		if or.Weight != nr.Weight {
			lines = append(lines, fmt.Sprintf("service %s: %s %s weight %d -> %d", service, kind, addr, or.Weight, nr.Weight))
		}
		// The real's own check strings (ldirectord's per-real request
		// and receive).
		for _, c := range [][3]string{
			{"request", settingValue(reflect.ValueOf(or.Request)), settingValue(reflect.ValueOf(nr.Request))},
			{"receive", settingValue(reflect.ValueOf(or.Receive)), settingValue(reflect.ValueOf(nr.Receive))},
		} {
			if c[1] != c[2] {
				lines = append(lines, fmt.Sprintf("service %s: %s %s %s %s -> %s", service, kind, addr, c[0], c[1], c[2]))
			}
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
