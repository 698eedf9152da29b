package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

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
	if *out != "" {
		if src, ok := sameFileAs(*out, res.Sources); ok {
			fmt.Fprintf(stderr, "hactl: import: -o %s is the source %s: writing there would destroy the setup being imported; give another file\n", *out, src)
			return exitUsage
		}
		if fi, err := os.Stat(*out); err == nil && fi.IsDir() {
			fmt.Fprintf(stderr, "hactl: import: -o %s is a directory: give the file to write, e.g. -o %s\n", *out, filepath.Join(*out, "had.toml"))
			return exitUsage
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	if *out != "" {
		if err := writeAtomic(*out, res.TOML); err != nil {
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

// sameFileAs returns the source that out is (os.SameFile: also through a
// link or another spelling of the path), if any.
func sameFileAs(out string, sources []string) (string, bool) {
	ofi, err := os.Stat(out)
	if err != nil {
		return "", false // not there yet: no source
	}
	for _, s := range sources {
		if fi, err := os.Stat(s); err == nil && os.SameFile(ofi, fi) {
			return s, true
		}
	}
	return "", false
}

// writeAtomic writes data to path (mode 0600) through a temporary file in
// the same directory renamed over it, so a failure leaves path as it was
// and never a half-written TOML.
func writeAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return cannotWrite(path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return cannotWrite(path, err)
	}
	if err = tmp.Sync(); err != nil {
		return cannotWrite(path, err)
	}
	if err = tmp.Close(); err != nil {
		return cannotWrite(path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return cannotWrite(path, err)
	}
	return nil
}

// cannotWrite names path and the system's reason, not the temporary file
// or the system call the reason came from.
func cannotWrite(path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("cannot write %s: %w", path, err)
}
