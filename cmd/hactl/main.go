// Command hactl is the hapair operator CLI: it validates configs and talks to
// had over its Unix socket (DESIGN.md "Binaries").
//
// Each verb is one entry in the verbs table and one file holding its run
// function; run functions take their arguments and output streams and return
// the exit status, so tests call them directly.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/hapair/hapair/internal/version"
)

// verb is one hactl subcommand.
type verb struct {
	name  string
	args  string // argument synopsis for usage
	short string // one line for usage
	run   func(args []string, stdout, stderr io.Writer) int
}

// verbs is every subcommand, in usage order. Add a verb here and put its run
// function in a file named after it.
var verbs = []verb{
	{"status", "[-o json]", "node, peers, links, groups and their owners", cmdStatus},
	{"is-master", "[GROUP]", "exit 0 and print 'master running' if this node holds GROUP (all groups)", cmdIsMaster},
	{"takeover", "[GROUP]", "move GROUP (all groups) to this node now", moveVerb("takeover")},
	{"standby", "[--drain] [--timeout D] [GROUP]", "move GROUP (all groups) to the peer now, or once drained", cmdStandby},
	{"maintenance", "on|off", "freeze: stop reacting to peers and checks, keep resources", cmdMaintenance},
	{"reload", "[--dry-run]", "re-read the config without moving unchanged groups", cmdReload},
	{"services", "[-o json]", "the balancer table, like ipvsadm -Ln", cmdServices},
	{"real", "disable|enable SERVICE REAL", "drain a real server on this node (REAL as the config writes it), or put it back", cmdReal},
	{"peer", "reset PEER", "forget PEER's replay state (after its state directory was lost)", cmdPeer},
	{"check-config", "[--node NAME | --no-host] [FILE]", "validate a config file (default " + defaultConfig + ") and this host for it", runCheckConfig},
	{"import", "FORMAT SOURCE [-o FILE]", "convert heartbeat DIR, ldirectord FILE, ipvsadm FILE|-, zeus FILE to had.toml", runImport},
}

// Exit statuses shared by all verbs (is-master uses 0/1/2 the same way).
const (
	exitOK    = 0
	exitFail  = 1 // the check failed: config invalid, not master, ...
	exitUsage = 2 // bad command line or could not run at all
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// -s SOCKET and -c CONFIG may also come before the verb, as in
	// `hactl -c /etc/hapair/had.toml status`; they are handed to the verb.
	var global []string
	for len(args) >= 2 && (args[0] == "-s" || args[0] == "-c") {
		global = append(global, args[0], args[1])
		args = args[2:]
	}
	if len(global) > 0 && len(args) > 0 {
		args = append([]string{args[0]}, append(global, args[1:]...)...)
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, version.String("hactl"))
		return exitOK
	}
	for _, v := range verbs {
		if v.name != args[0] {
			continue
		}
		if len(args) == 2 && isHelp(args[1]) {
			// Asked for, not a mistake: the usage on stdout, exit 0, as
			// `hactl --help`. (The flag package prints it and fails.)
			v.run(args[1:], stdout, stdout)
			return exitOK
		}
		return v.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "hactl: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hactl COMMAND [-s SOCKET | -c CONFIG] [ARGS]  (hactl --version: the build)")
	fmt.Fprintln(w, "\ncommands:")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-28s %s\n", v.name+" "+v.args, v.short)
	}
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }
