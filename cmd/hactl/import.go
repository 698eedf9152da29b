package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hapair/hapair/cmd/internal/importer"
)

// runImport is `hactl import FORMAT SOURCE [-o FILE]`: it converts a
// Heartbeat directory, an ldirectord.cf, ipvsadm rules ("-" for stdin) or a
// Zeus monitor.cfg to had.toml on stdout (or FILE). Every directive not
// carried over is a FILE:LINE warning on stderr. The status is 0 when the
// conversion is complete, 1 when something essential was not converted (the
// TOML is still written, with placeholders), 2 when nothing could be read.
func runImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the TOML to `FILE` instead of stdout")
	listen := fs.String("listen", "", "zeus: the virtual service's `ADDR:PORT` (monitor.cfg does not say)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hactl import heartbeat DIR | ldirectord FILE | ipvsadm FILE|- | zeus [-listen ADDR:PORT] FILE  [-o FILE]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return exitUsage
	}
	format := args[0]
	// Flags may come before or after the source.
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) > 0 {
		source := rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return exitUsage
		}
		rest = append([]string{source}, fs.Args()...)
	}
	if len(rest) != 1 {
		fs.Usage()
		return exitUsage
	}
	src := rest[0]
	var res *importer.Result
	var err error
	switch format {
	case "heartbeat":
		res, err = importer.Heartbeat(src)
	case "ldirectord":
		res, err = importer.Ldirectord(src)
	case "ipvsadm":
		if src == "-" {
			res, err = importer.IPVSAdm("stdin", os.Stdin)
		} else {
			res, err = importer.IPVSAdmFile(src)
		}
	case "zeus":
		res, err = importer.Zeus(src, *listen)
	default:
		fmt.Fprintf(stderr, "hactl: import: unknown format %q (want heartbeat, ldirectord, ipvsadm or zeus)\n", format)
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "hactl: import: %v\n", err)
		return exitUsage
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	if *out != "" {
		if err := os.WriteFile(*out, res.TOML, 0o600); err != nil {
			fmt.Fprintf(stderr, "hactl: import: %v\n", err)
			return exitUsage
		}
	} else if _, err := stdout.Write(res.TOML); err != nil {
		return exitUsage
	}
	if !res.Complete() {
		fmt.Fprintf(stderr, "hactl: import: incomplete: fix what is marked \"not converted\" and the PLACEHOLDERs before use\n")
		return exitFail
	}
	return exitOK
}
