package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/hapair/hapair/internal/config"
)

const defaultConfig = config.DefaultPath

// runCheckConfig is `hactl check-config [FILE]`: every problem is printed as
// FILE:LINE:COL: key.path: message on stderr and the status is 1; a valid
// file gets a one-line summary on stdout and status 0.
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
	cfg, err := config.Load(path)
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
	fmt.Fprintf(stdout, "%s: ok: cluster %q id %d, %s, %s, %s\n", path, cfg.Cluster.Name, cfg.Cluster.ID,
		plural(len(cfg.Cluster.Nodes), "node"), plural(len(cfg.Groups), "group"), plural(len(cfg.Services), "service"))
	return exitOK
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
