package check

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/runner"
)

// ExternalChecker is a check that runs a program and passes when it exits 0
// and its output does not start with FAIL (ldirectord checktype=external).
//
// The program runs as `Program Args... VIP VPORT RIP RPORT`, ldirectord's
// checkcommand argument order, so existing ldirectord check scripts work
// unchanged; the same values are in HAPAIR_VIP, HAPAIR_VPORT, HAPAIR_RIP and
// HAPAIR_RPORT. It runs through internal/runner: its own process group,
// SIGTERM then SIGKILL to the whole group at Timeout, bounded output.
type ExternalChecker struct {
	Program string
	Args    []string
	Virtual netip.AddrPort
	Timeout time.Duration
}

// Check runs the program for target.
func (c *ExternalChecker) Check(ctx context.Context, target netip.AddrPort) error {
	vip, vport := "0.0.0.0", "0"
	if c.Virtual.IsValid() {
		vip, vport = c.Virtual.Addr().String(), strconv.Itoa(int(c.Virtual.Port()))
	}
	rip, rport := target.Addr().String(), strconv.Itoa(int(target.Port()))
	args := append(append([]string(nil), c.Args...), vip, vport, rip, rport)
	env := []string{"HAPAIR_VIP=" + vip, "HAPAIR_VPORT=" + vport, "HAPAIR_RIP=" + rip, "HAPAIR_RPORT=" + rport}
	res, err := runner.Run(ctx, runner.Command{Path: c.Program, Args: args, Env: env, Timeout: c.Timeout, KillGrace: runner.ProbeKillGrace})
	what := "external " + c.Program
	line := res.FirstLine()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: timeout after %v", what, c.Timeout)
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case strings.HasPrefix(line, "FAIL"):
		return fmt.Errorf("%s: %s", what, line)
	case res.ExitCode != 0 && line != "":
		return fmt.Errorf("%s: %s: %s", what, res.Status, line)
	case res.ExitCode != 0:
		return fmt.Errorf("%s: %s", what, res.Status)
	}
	return nil
}
