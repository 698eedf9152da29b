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

// Build returns the module version ("(devel)" from a checkout) and the VCS
// revision, 12 hex digits with "+modified" for a modified tree ("" when
// unknown), for labels such as hapair_build_info's.
func Build() (version, revision string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)", ""
	}
	version = info.Main.Version
	if version == "" {
		version = "(unknown)"
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if revision != "" && modified {
		revision += "+modified"
	}
	return version, revision
}
