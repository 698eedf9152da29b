package script

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/runner"
)

// DefaultDirs are searched, in order, for a resource given by bare name:
// hapair's own directory, then Heartbeat's resource.d and the LSB init
// directory, as Heartbeat's ResourceManager does.
var DefaultDirs = []string{"/etc/hapair/resource.d", "/etc/ha.d/resource.d", "/etc/init.d"}

// DefaultTimeout bounds each start, stop and status run (Pacemaker's
// default operation timeout).
const DefaultTimeout = 20 * time.Second

// ErrStopped is returned (wrapped) by Status when the script reports the
// resource stopped (LSB exit status 3).
var ErrStopped = errors.New("stopped")

// Spec describes a script resource.
type Spec struct {
	// Resource is a haresources entry, `name::arg1::arg2`: name is looked
	// up in Dirs unless it is an absolute path; the arguments come before
	// the operation: `prog arg1 arg2 start`.
	Resource string
	// Args are appended to those from Resource.
	Args []string
	// Dirs to search for a bare name (default DefaultDirs).
	Dirs []string
	// Timeouts per operation (default DefaultTimeout each).
	StartTimeout, StopTimeout, StatusTimeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL after a timeout
	// (default runner.DefaultKillGrace).
	KillGrace time.Duration
	// LegacyStatus selects Heartbeat's old status rule: the resource runs
	// when the status output contains "running" or "OK", whatever the exit
	// status (for pre-LSB haresources scripts that always exit 0). By
	// default the LSB rule holds: exit 0 running, anything else not
	// (3 = cleanly stopped, reported as ErrStopped).
	LegacyStatus bool
	// Env is added to the environment ("KEY=value").
	Env []string
}

// ParseResource splits a Heartbeat haresources entry `name::arg1::arg2`.
func ParseResource(s string) (name string, args []string, err error) {
	parts := strings.Split(s, "::")
	name = parts[0]
	if name == "" {
		return "", nil, fmt.Errorf("resource script %q: empty name", s)
	}
	return name, parts[1:], nil
}

// CheckProgram reports why path cannot name a program had runs by itself
// (a notify hook, a track script), or nil: it must be an absolute path,
// since it runs with no shell and no PATH search, and had's working
// directory is not the config file's.
func CheckProgram(path string) error {
	switch {
	case path == "":
		return errors.New("want a program path")
	case !filepath.IsAbs(path):
		return fmt.Errorf("%q: want an absolute path", path)
	}
	return runner.TextError(path)
}

// CheckResource reports why a haresources entry `name::arg1::arg2` cannot
// name a resource script, or nil. It only reads the text: Resolve looks
// for the file.
func CheckResource(s string) error {
	name, _, err := ParseResource(s)
	if err != nil {
		return err
	}
	if err := runner.TextError(s); err != nil {
		return err
	}
	if !filepath.IsAbs(name) && (strings.ContainsRune(name, '/') || name == "." || name == "..") {
		return fmt.Errorf("%q: want a bare name (looked up in %s) or an absolute path", name, strings.Join(DefaultDirs, ", "))
	}
	return nil
}

// Resolve finds the program for name: an absolute path as is, a bare name
// in the first of dirs holding an executable file of that name. Relative
// paths are refused: they would depend on the daemon's working directory.
func Resolve(name string, dirs []string) (string, error) {
	if filepath.IsAbs(name) {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("resource script %q: %w", name, err)
		}
		return filepath.Clean(name), nil
	}
	if strings.ContainsRune(name, '/') || name == "." || name == ".." {
		return "", fmt.Errorf("resource script %q: give a bare name or an absolute path", name)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("resource script %q: no executable file of that name in %s", name, strings.Join(dirs, ", "))
}

func executable(p string) error { return runner.Executable(p) }

// Script is the script resource. It is safe for concurrent use; each call
// runs the program once.
type Script struct {
	spec Spec
	path string
	args []string
	name string
}

// New parses and resolves spec. The program must exist when New is called,
// so `hactl check-config` reports a missing script.
func New(spec Spec) (*Script, error) {
	name, args, err := ParseResource(spec.Resource)
	if err != nil {
		return nil, err
	}
	if spec.Dirs == nil {
		spec.Dirs = DefaultDirs
	}
	path, err := Resolve(name, spec.Dirs)
	if err != nil {
		return nil, err
	}
	for _, t := range []*time.Duration{&spec.StartTimeout, &spec.StopTimeout, &spec.StatusTimeout} {
		if *t <= 0 {
			*t = DefaultTimeout
		}
	}
	return &Script{spec: spec, path: path, args: append(args, spec.Args...), name: spec.Resource}, nil
}

// Name returns "script " and the haresources entry, e.g. "script mailq::a".
func (s *Script) Name() string { return "script " + s.name }

// Path returns the resolved program.
func (s *Script) Path() string { return s.path }

func (s *Script) run(ctx context.Context, op string, timeout time.Duration) (runner.Result, error) {
	res, err := runner.Run(ctx, runner.Command{
		Path:      s.path,
		Args:      append(append([]string(nil), s.args...), op),
		Env:       s.spec.Env,
		Timeout:   timeout,
		KillGrace: s.spec.KillGrace,
	})
	if err != nil {
		return res, fmt.Errorf("script: %s %s: %w", s.name, op, err)
	}
	return res, nil
}

func (s *Script) exitErr(op string, res runner.Result) error {
	return fmt.Errorf("script: %s %s: exit status %d%s", s.name, op, res.ExitCode, runner.QuoteOutput(res.Output))
}

// Start runs `prog args... start`; exit status 0 is success.
func (s *Script) Start(ctx context.Context) error {
	res, err := s.run(ctx, "start", s.spec.StartTimeout)
	if err == nil && res.ExitCode != 0 {
		err = s.exitErr("start", res)
	}
	return err
}

// Stop runs `prog args... stop`; exit status 0 is success (LSB: stopping
// a stopped service succeeds too).
func (s *Script) Stop(ctx context.Context) error {
	res, err := s.run(ctx, "stop", s.spec.StopTimeout)
	if err == nil && res.ExitCode != 0 {
		err = s.exitErr("stop", res)
	}
	return err
}

// Status runs `prog args... status`: nil when running; see
// Spec.LegacyStatus for the rule.
func (s *Script) Status(ctx context.Context) error {
	res, err := s.run(ctx, "status", s.spec.StatusTimeout)
	if err != nil {
		return err
	}
	if s.spec.LegacyStatus {
		if strings.Contains(strings.ToLower(res.Output), "running") || strings.Contains(res.Output, "OK") {
			return nil
		}
		return fmt.Errorf("script: %s status: %w%s", s.name, ErrStopped, runner.QuoteOutput(res.Output))
	}
	switch res.ExitCode {
	case 0:
		return nil
	case 3:
		return fmt.Errorf("script: %s status: %w (exit status 3)", s.name, ErrStopped)
	}
	return s.exitErr("status", res)
}
