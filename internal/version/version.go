// Package version says which build of hapair is running, from the build
// information the Go toolchain embeds (runtime/debug.ReadBuildInfo): the
// module version and, when built from a checkout, the VCS revision, its
// time and whether the tree was modified. `had --version` and
// `hactl --version` print it.
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// String is "PROG VERSION" with the revision when known, e.g.
// "had v1.2.0" or "hactl (devel) vcs git 3f2a9c1d0b7e 2026-11-30T14:02:11Z modified".
func String(prog string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return prog + " (no build information)"
	}
	return format(prog, info)
}

func format(prog string, info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(unknown)"
	}
	parts := []string{prog, v}
	set := map[string]string{}
	for _, s := range info.Settings {
		set[s.Key] = s.Value
	}
	if rev := set["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		parts = append(parts, "vcs", set["vcs"], rev)
		if t := set["vcs.time"]; t != "" {
			parts = append(parts, t)
		}
		if set["vcs.modified"] == "true" {
			parts = append(parts, "modified")
		}
	}
	return strings.Join(parts, " ") + fmt.Sprintf(" (%s)", info.GoVersion)
}
