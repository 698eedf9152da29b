// Command had is the hapair daemon, one per node (DESIGN.md "Binaries"):
// it exchanges authenticated heartbeats with its peers, runs the ownership
// machine, starts and stops resource groups (VIPs with gratuitous ARP, the
// embedded balancer, scripts), and answers hactl on its control socket.
//
// SIGTERM and SIGINT hand every group to a peer with a "leaving" packet and
// exit; SIGHUP reloads the config. Under systemd (Type=notify) it reports
// READY once serving and pings the watchdog while its loop is alive.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hapair/hapair/cmd/internal/admin"
	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/internal/ctl"
	"github.com/hapair/hapair/internal/realtime"
	"github.com/hapair/hapair/internal/version"
	"github.com/hapair/hapair/node"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// leaveTimeout bounds the goodbye on SIGTERM: resources are stopped in
// reverse order within it, and whatever is left is abandoned to exit.
const leaveTimeout = 30 * time.Second

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("had", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", config.DefaultPath, "config `file`")
	nodeName := fs.String("node", "", "this node's `name` in cluster.nodes (default the host name)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	format := fs.String("log-format", "text", "log `format`: text (logfmt key=value) or json (one object a line)")
	showVersion := fs.Bool("version", false, "print the build (module version and VCS revision) and exit")
	checkOnly := fs.Bool("check", false, "check config, authkeys and this host as a start would, touching nothing, report, and exit")
	noHost := fs.Bool("no-host", false, "with --check: leave the host facts out (interfaces, addresses, kernel, programs), for a config meant for another machine")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("had"))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "had: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	checkOpts := node.CheckOptions{Node: *nodeName, NoHost: *noHost}
	switch {
	case *noHost && !*checkOnly:
		fmt.Fprintln(stderr, "had: --no-host is for --check: a node that starts runs on this host's interfaces and kernel")
		fs.Usage()
		return 2
	case checkOpts.Validate() != nil:
		fmt.Fprintf(stderr, "had: %v\n", checkOpts.Validate())
		fs.Usage()
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "had: -log-level %q: want debug, info, warn or error\n", *level)
		return 2
	}
	log, err := newLogger(stderr, *format, lvl)
	if err != nil {
		fmt.Fprintf(stderr, "had: %v\n", err)
		return 2
	}

	if *checkOnly {
		rep, err := node.Check(*path, checkOpts)
		for _, w := range rep.Warnings {
			log.Warn(w)
		}
		if err != nil {
			return failed(stderr, *path, err)
		}
		fmt.Fprintf(stdout, "had: %s\n", rep.Summary())
		return 0
	}
	cfg, kr, warns, err := node.Load(*path, *nodeName)
	for _, w := range warns {
		log.Warn(w)
	}
	if err != nil {
		return failed(stderr, *path, err)
	}
	self, _ := cfg.Self(*nodeName) // checked by node.Load
	log = log.With("node", self)
	if cfg.Cluster.Realtime {
		realtime.PrepareProcess(log)
	}

	n, err := node.Build(cfg, node.Options{Path: *path, Node: *nodeName, Keyring: kr, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "had: %v\n", err)
		return 1
	}
	return serve(n, cfg, log, stderr)
}

// failed prints why the config at path does not start and returns the
// exit status: config errors one FILE:LINE:COL line each, as hactl
// check-config prints them.
func failed(stderr io.Writer, path string, err error) int {
	if lines := node.ErrorLines(path, err); lines != nil {
		last := len(lines) - 1
		lines[last] = "had: " + lines[last] + ", not starting"
		fmt.Fprintln(stderr, strings.Join(lines, "\n"))
		return 1
	}
	fmt.Fprintf(stderr, "had: %v\n", err)
	return 1
}

// newLogger builds had's logger: slog's text handler (logfmt, what
// journald shows) or its JSON handler (one object a line, for log
// shippers), like node_exporter's --log.format.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

// serve runs the node until a terminating signal, then leaves cleanly.
func serve(n *node.Node, cfg *config.Config, log *slog.Logger, stderr io.Writer) int {
	defer n.Close()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	// Take the socket before the first heartbeat: a second daemon on the
	// same socket must fail before it speaks to peers.
	ln, err := ctl.Listen(cfg.Cluster.Socket)
	if err != nil {
		fmt.Fprintf(stderr, "had: %v\n", err)
		return 1
	}
	// The admin listener binds before the first heartbeat too, so a taken
	// port stops had before it speaks to peers.
	if a := cfg.Admin; a.Listen.IsValid() {
		adm, err := admin.Listen(admin.Config{Listen: a.Listen, AllowRemote: a.AllowRemote,
			Source: n, Logger: log.With("component", "admin")})
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "had: %v\n", err)
			return 1
		}
		defer adm.Close()
		log.Info("admin listener serving /metrics, /api/v1/status and the status page", "listen", adm.Addr().String())
	}
	if err := n.Start(); err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "had: %v\n", err)
		return 1
	}
	srv := ctl.Serve(ln, n.Handle, log.With("component", "ctl"))
	defer srv.Close()
	log.Info("had running", "generation", n.Generation(), "socket", cfg.Cluster.Socket,
		"groups", len(cfg.Groups), "services", len(cfg.Services))
	sdNotify(log, "READY=1")
	stopWatchdog := startWatchdog(log, n.Alive)
	defer stopWatchdog()

	for {
		select {
		case <-n.Done():
			// The agent loop ended on its own: that is a bug, not a stop.
			log.Error("agent stopped unexpectedly", "err", n.Err())
			return 1
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				lines, err := n.Reload(ctx, false)
				cancel()
				if err != nil {
					log.Error("reload failed", "err", err)
				}
				for _, l := range lines {
					log.Info("reload", "change", l)
				}
				continue
			}
			// Whether a peer takes each group is the machine's to say (an
			// error for a group left with no holder): not claimed here.
			log.Info("stopping", "signal", sig.String())
			sdNotify(log, "STOPPING=1")
			ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
			if err := n.Leave(ctx); err != nil {
				log.Error("leaving did not finish cleanly", "err", err)
			}
			cancel()
			srv.Close()
			n.Close()
			log.Info("stopped")
			return 0
		}
	}
}

// The node is the admin listener's source of snapshots.
var _ admin.Source = (*node.Node)(nil)
