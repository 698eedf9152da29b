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
	{"check-config", "[FILE]", "validate a config file (default " + defaultConfig + ")", runCheckConfig},
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
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, v := range verbs {
		if v.name == args[0] {
			return v.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "hactl: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hactl COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-28s %s\n", v.name+" "+v.args, v.short)
	}
}
