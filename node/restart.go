package node

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hapair/hapair/internal/config"
)

// clusterWhy says, per [cluster] field, why the running node cannot take a
// change of it: each is fixed when had starts.
var clusterWhy = map[string]string{
	"Name":         "the cluster name is fixed at start",
	"ID":           "every heartbeat carries the cluster id, fixed at start",
	"Nodes":        "the cluster's membership is fixed at start",
	"Authkeys":     "the authkeys file is read at start",
	"Keepalive":    "the heartbeat timing is fixed at start",
	"Warntime":     "the heartbeat timing is fixed at start",
	"Deadtime":     "the heartbeat timing is fixed at start",
	"Initdead":     "the heartbeat timing is fixed at start",
	"AutoFailback": "the failback rules are fixed at start",
	"FailbackHold": "the failback rules are fixed at start",
	"StateDir":     "the state directory is locked at start",
	"Socket":       "the control socket is opened at start",
	"Notify":       "notify hooks are set up at start",
	"Port":         "the heartbeat sockets are opened at start",
}

// restartReasons lists every change from a to b that the running node
// cannot take, each a sentence naming the key, the old and the new value,
// and why it needs a restart.
func restartReasons(a, b *config.Config) []string {
	var out []string
	need := func(what, why string) {
		out = append(out, what+", which needs a restart of had ("+why+")")
	}
	ca, cb := reflect.ValueOf(a.Cluster), reflect.ValueOf(b.Cluster)
	for i := range ca.NumField() {
		f := ca.Type().Field(i)
		va, vb := ca.Field(i).Interface(), cb.Field(i).Interface()
		if reflect.DeepEqual(va, vb) {
			continue
		}
		why := clusterWhy[f.Name]
		if why == "" {
			why = "it is read only at start"
		}
		need(fmt.Sprintf("cluster.%s changed from %s to %s", snake(f.Name), show(va), show(vb)), why)
	}
	for _, c := range changed(a.Links, b.Links, func(l config.Link) string { return l.Name }) {
		need("link "+c, "the heartbeat sockets are opened at start")
	}
	for _, c := range changed(a.Pings, b.Pings, func(p config.Ping) string { return p.Address.String() }) {
		need("ping node "+c, "check weights are part of the priorities, fixed at start")
	}
	for _, c := range changed(a.Tracks, b.Tracks, func(t config.Track) string { return t.Name }) {
		need("track "+c, "check weights are part of the priorities, fixed at start")
	}
	ga, gb := groupsByName(a), groupsByName(b)
	for _, name := range slices.Sorted(maps.Keys(ga)) {
		if _, ok := gb[name]; !ok {
			need("group "+name+" removed", "every heartbeat carries the set of groups, fixed at start")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(gb)) {
		og, ok := ga[name]
		ng := gb[name]
		if !ok {
			need("group "+name+" added", "every heartbeat carries the set of groups, fixed at start")
			continue
		}
		for _, f := range []struct {
			key      string
			old, new any
			why      string
		}{
			{"preferred", og.Preference, ng.Preference, "a group's ownership rules are fixed at start"},
			{"priorities", og.Priorities, ng.Priorities, "a group's ownership rules are fixed at start"},
			{"auto_failback", og.AutoFailback, ng.AutoFailback, "a group's ownership rules are fixed at start"},
			{"failback_min_healthy", og.FailbackMinHealthy, ng.FailbackMinHealthy, "a group's ownership rules are fixed at start"},
			{"notify", og.Notify, ng.Notify, "notify hooks are set up at start"},
			{"mode", og.ActiveActive, ng.ActiveActive, "a group's ownership rules are fixed at start"},
			{"bgp addresses", bgpAddresses(og), bgpAddresses(ng), "BIRD's config, with every group's routes, is written at start"},
			{"make-before-break handover (bgp and balancer resources only)", makeBeforeBreak(og), makeBeforeBreak(ng), "a group's ownership rules are fixed at start"},
		} {
			if !reflect.DeepEqual(f.old, f.new) {
				need(fmt.Sprintf("group %s: %s changed from %s to %s", name, f.key, show(f.old), show(f.new)), f.why)
			}
		}
	}
	if !reflect.DeepEqual(a.BGP, b.BGP) {
		need("bgp changed", "BIRD's sessions are configured at start")
	}
	if a.Admin != b.Admin {
		need(fmt.Sprintf("admin changed from %s to %s", adminDesc(a.Admin), adminDesc(b.Admin)), "the admin listener is bound at start")
	}
	switch {
	case len(a.Services) == 0 && len(b.Services) > 0:
		need("services added to a config that had none", "the balancer is started at start, only when services are configured")
	case len(a.Services) > 0 && len(b.Services) == 0:
		need("every service removed", "the balancer is started at start and stays while services are configured")
	}
	return out
}

// changed describes the entries of a and b (keyed by key) that were added,
// removed or changed: "ucast1 added", "mcast0 changed".
func changed[T any](a, b []T, key func(T) string) []string {
	ma, mb := map[string]T{}, map[string]T{}
	var keys []string
	for _, x := range a {
		ma[key(x)] = x
		keys = append(keys, key(x))
	}
	for _, x := range b {
		if _, ok := ma[key(x)]; !ok {
			keys = append(keys, key(x))
		}
		mb[key(x)] = x
	}
	var out []string
	for _, k := range keys {
		xa, inA := ma[k]
		xb, inB := mb[k]
		switch {
		case !inA:
			out = append(out, k+" added")
		case !inB:
			out = append(out, k+" removed")
		case !reflect.DeepEqual(xa, xb):
			out = append(out, k+" changed")
		}
	}
	return out
}

// snake turns a Go field name into its config key: FailbackHold ->
// failback_hold, ID -> id.
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// show renders a config value as the file would write it.
func show(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case time.Duration:
		return x.String()
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case map[string]uint8:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		kv := make([]string, len(keys))
		for i, k := range keys {
			kv[i] = fmt.Sprintf("%s = %d", k, x[k])
		}
		return "{ " + strings.Join(kv, ", ") + " }"
	}
	return fmt.Sprint(v)
}

// adminDesc describes an [admin] table for a reload refusal.
func adminDesc(a config.Admin) string {
	if !a.Listen.IsValid() {
		return "off"
	}
	if a.AllowRemote {
		return fmt.Sprintf("listen %s (allow_remote)", a.Listen)
	}
	return "listen " + a.Listen.String()
}

// bgpAddresses lists the addresses g's bgp resources announce.
func bgpAddresses(g config.Group) []string {
	var out []string
	for _, r := range g.Resources {
		if r.BGP != nil {
			for _, a := range r.BGP.Addresses {
				out = append(out, a.String())
			}
		}
	}
	return out
}
