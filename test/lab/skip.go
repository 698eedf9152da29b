package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// E2EEnv is the environment variable that turns a missing capability (root,
// ip, nft, namespaces) from a skip into a failure, as CI sets it.
const E2EEnv = "HAPAIR_E2E"

// missing names what the lab needs and does not have: "" when everything is
// there. euid and lookPath are parameters so the rule is unit tested.
func missing(euid int, lookPath func(string) (string, error)) string {
	var miss []string
	if euid != 0 {
		miss = append(miss, "root (network namespaces)")
	}
	for _, cmd := range []string{"ip", "nft"} {
		if _, err := lookPath(cmd); err != nil {
			miss = append(miss, fmt.Sprintf("%s in PATH", cmd))
		}
	}
	return strings.Join(miss, ", ")
}

// Missing names what the lab needs and this process does not have (root,
// ip and nft in PATH), e.g. "root (network namespaces), nft in PATH"; ""
// when the lab can run. Programs use it to refuse early with a clear message.
func Missing() string { return missing(os.Geteuid(), exec.LookPath) }

// verdict turns a missing capability into a message and says whether it is a
// failure (e2e is the value of HAPAIR_E2E) or a skip.
func verdict(what, e2e string) (fatal bool, msg string) {
	if e2e == "1" {
		return true, fmt.Sprintf("lab: missing %s, and %s=1 makes that a failure", what, E2EEnv)
	}
	return false, fmt.Sprintf("skipping lab test: missing %s (run as root with iproute2 and nftables; `make deps-sys` installs them; %s=1 fails instead of skipping)", what, E2EEnv)
}

// Require skips t, or fails it under HAPAIR_E2E=1, when the lab cannot run
// here. New calls it; tests that need only root and ip may call it early.
func Require(t T) {
	t.Helper()
	if what := Missing(); what != "" {
		skipOrFatal(t, what)
	}
}

func skipOrFatal(t T, what string) {
	t.Helper()
	fatal, msg := verdict(what, os.Getenv(E2EEnv))
	if fatal {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RequireProgram skips t, or fails it under HAPAIR_E2E=1, when the program
// at path (e.g. /usr/sbin/bird) is missing; pkg names the Debian package
// that has it (`make deps-sys` installs it).
func RequireProgram(t T, path, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		skipOrFatal(t, fmt.Sprintf("%s (Debian package %s)", path, pkg))
	}
}
