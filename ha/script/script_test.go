package script

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hapair/hapair/ha/resource"
	"github.com/hapair/hapair/internal/testkit"
)

var _ resource.Resource = (*Script)(nil)

func TestScriptOps(t *testing.T) {
	dir := t.TempDir()
	// Records its arguments, then acts on the operation (the last one).
	testkit.WriteScript(t, dir, "svc", `echo "$@" >> "$(dirname "$0")/calls"
for op; do :; done
case "$op" in
start) echo started; exit 0 ;;
stop) exit 0 ;;
status) echo "svc is stopped" >&2; exit 3 ;;
esac`)
	testkit.WriteScript(t, dir, "broken", `echo "cannot bind 198.18.0.100:80" >&2; exit 1`)
	testkit.WriteScript(t, dir, "legacy", `echo "svc running"; exit 0`)
	testkit.WriteScript(t, dir, "legacydown", `echo "svc stopped"; exit 0`)
	ctx := context.Background()

	s, err := New(Spec{Resource: "svc::a1::a 2", Dirs: []string{filepath.Join(dir, "missing"), dir}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Name(), "script svc::a1::a 2"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if err := s.Start(ctx); err != nil {
		t.Errorf("Start() = %v, want nil", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop() = %v, want nil", err)
	}
	err = s.Status(ctx)
	if !errors.Is(err, ErrStopped) || err.Error() != "script: svc::a1::a 2 status: stopped (exit status 3)" {
		t.Errorf("Status() = %v, want ErrStopped", err)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if got, want := string(calls), "a1 a 2 start\na1 a 2 stop\na1 a 2 status\n"; got != want {
		t.Errorf("calls = %q, want %q", got, want)
	}

	b, err := New(Spec{Resource: filepath.Join(dir, "broken")})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Start(ctx)
	want := `script: ` + filepath.Join(dir, "broken") + ` start: exit status 1: output "cannot bind 198.18.0.100:80"`
	if err == nil || err.Error() != want {
		t.Errorf("Start() = %v, want %q", err, want)
	}
	if err := b.Status(ctx); err == nil || !strings.Contains(err.Error(), `status: exit status 1: output "cannot bind`) {
		t.Errorf("Status() = %v, want exit status 1 with output", err)
	}

	l, _ := New(Spec{Resource: "legacy", Dirs: []string{dir}, LegacyStatus: true})
	if err := l.Status(ctx); err != nil {
		t.Errorf("legacy Status() = %v, want nil (output says running)", err)
	}
	ld, _ := New(Spec{Resource: "legacydown", Dirs: []string{dir}, LegacyStatus: true})
	if err := ld.Status(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("legacy Status() = %v, want ErrStopped", err)
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "noexec"), []byte("#!/bin/sh\n"), 0o644)
	tests := []struct {
		res  string
		want string
	}{
		{"", `resource script "": empty name`},
		{"::x", `resource script "::x": empty name`},
		{"nothere", `resource script "nothere": no executable file of that name in ` + dir},
		{"../etc/x", `resource script "../etc/x": give a bare name or an absolute path`},
		{"noexec", `resource script "noexec": no executable file of that name in ` + dir},
		{filepath.Join(dir, "noexec"), "is not executable (mode 0644)"},
		{dir, "is not a regular file"},
	}
	for _, tt := range tests {
		_, err := New(Spec{Resource: tt.res, Dirs: []string{dir}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) = %v, want it to contain %q", tt.res, err, tt.want)
		}
	}
}
