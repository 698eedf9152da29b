// Command had is the hapair daemon, one per node (DESIGN.md "Binaries").
//
// For now it only loads and checks its config and authkeys (loadAll), the
// way it will at every start, and reports what it found; running the agent,
// links and balancer comes next.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hapair/hapair/cmd/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("had", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", config.DefaultPath, "config `file`")
	node := fs.String("node", "", "this node's `name` in cluster.nodes (default the host name)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "had: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	cfg, _, warns, err := loadAll(*path, *node)
	for _, w := range warns {
		fmt.Fprintf(stderr, "had: warning: %s\n", w)
	}
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			// One FILE:LINE:COL line each, as hactl check-config prints them.
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "had: %s: %d errors, not starting\n", *path, len(errs))
		} else {
			fmt.Fprintf(stderr, "had: %v\n", err)
		}
		return 1
	}
	self, _ := cfg.Self(*node) // checked by loadAll
	fmt.Fprintf(stdout, "had: config ok: node %s in cluster %q id %d; daemon not yet implemented\n", self, cfg.Cluster.Name, cfg.Cluster.ID)
	return 0
}
