package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node"
)

const defaultConfig = config.DefaultPath

// runCheckConfig is `hactl check-config [FILE]`: it runs the check had runs
// (node.Check: the config, the authkeys file it names, and the node built
// dry for every node of cluster.nodes). Every config problem is printed as
// FILE:LINE:COL: key.path: message on stderr and the status is 1; a valid
// file gets a one-line summary on stdout, naming the authkeys file checked,
// and status 0.
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: hactl check-config [FILE]") }
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	path := defaultConfig
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	rep, err := node.Check(path)
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "hactl: check-config: warning: %s\n", w)
	}
	var errs config.Errors
	switch {
	case errors.As(err, &errs):
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "%s: %s\n", path, plural(len(errs), "error"))
		return exitFail
	case err != nil:
		fmt.Fprintf(stderr, "hactl: check-config: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: %s\n", path, rep.Summary())
	return exitOK
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
