package version

import (
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		desc string
		info debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.24.1", Main: debug.Module{Version: "v1.2.0"}}, "had v1.2.0 (go1.24.1)"},
		{"checkout", debug.BuildInfo{GoVersion: "go1.24.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "3f2a9c1d0b7e5a4b3c2d1e0f"},
			{Key: "vcs.time", Value: "2026-11-30T14:02:11Z"}, {Key: "vcs.modified", Value: "true"}}},
			"had (devel) vcs git 3f2a9c1d0b7e 2026-11-30T14:02:11Z modified (go1.24.1)"},
		{"no version", debug.BuildInfo{GoVersion: "go1.24.1"}, "had (unknown) (go1.24.1)"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := format("had", &tt.info); got != tt.want {
				t.Errorf("format() = %q, want %q", got, tt.want)
			}
		})
	}
}
