package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node"
)

const defaultConfig = config.DefaultPath

// runCheckConfig is `hactl check-config [--node NAME | --no-host] [FILE]`:
// it runs the check had runs (node.Check: the config, the authkeys file it
// names, and the node built dry for every node of cluster.nodes). On the
// node itself the check includes the host facts, as keepalived checks its
// interfaces at load: this host is the node named by --node or its host
// name, and every interface and own address the config names must be
// here, with the kernel pieces and programs its resources need.
// --no-host leaves them out, for a config meant for another machine. Every
// config problem is printed as FILE:LINE:COL: key.path: message on stderr
// and the status is 1; a valid file gets a one-line summary on stdout,
// naming the authkeys file checked and whether the host was, and status 0.
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o node.CheckOptions
	fs.StringVar(&o.Node, "node", "", "check this host as node `NAME` of cluster.nodes (default: the host name, as had)")
	cfgFlag := fs.String("c", "", "the config `file` (as the file argument; hactl -c FILE check-config)")
	fs.BoolVar(&o.NoHost, "no-host", false, "leave the host facts out (interfaces, addresses, kernel, programs; host names are not resolved): the config is for another machine; the authkeys file is still read")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hactl check-config [--node NAME | --no-host] [FILE]")
		fs.PrintDefaults()
	}
	// Flags may also follow the file: hactl check-config had.toml --no-host.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		files, args = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if *cfgFlag != "" {
		files = append(files, *cfgFlag)
	}
	switch {
	case len(files) > 1:
		fmt.Fprintf(stderr, "hactl: check-config: one config file at a time, got %q\n", files)
		fs.Usage()
		return exitUsage
	case o.Validate() != nil:
		fmt.Fprintf(stderr, "hactl: check-config: %v\n", o.Validate())
		fs.Usage()
		return exitUsage
	}
	path := defaultConfig
	if len(files) == 1 {
		path = files[0]
	}
	rep, err := node.Check(path, o)
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "hactl: check-config: warning: %s\n", w)
	}
	if lines := node.ErrorLines(path, err); lines != nil {
		// The authkeys file's errors take the same FILE:LINE:COL form as
		// the config's.
		fmt.Fprintln(stderr, strings.Join(lines, "\n"))
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "hactl: check-config: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: %s\n", path, rep.Summary())
	return exitOK
}
