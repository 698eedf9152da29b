package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/hapair/hapair/proxy"
)

// serveHapair runs a proxy.Balancer with an L4, an HTTP and a UDP service over
// the given reals until SIGTERM: the same code path had runs, without had.
func serveHapair() error {
	reals, err := parseReals(*realsFlag)
	if err != nil {
		return err
	}
	l4, err := netip.ParseAddrPort(*l4Listen)
	if err != nil {
		return err
	}
	web, err := netip.ParseAddrPort(*httpListen)
	if err != nil {
		return err
	}
	ureals, err := parseReals(*udpReals)
	if err != nil {
		return err
	}
	udp, err := netip.ParseAddrPort(*udpListen)
	if err != nil {
		return err
	}
	cfg := proxy.Config{Services: []proxy.ServiceConfig{
		{Name: "l4", Listen: l4, Mode: "l4", Scheduler: "rr", Reals: reals},
		{Name: "http", Listen: web, Mode: "http", Scheduler: "rr", Reals: reals},
		{Name: "udp", Listen: udp, Protocol: "udp", Scheduler: "rr", Reals: ureals},
	}}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := proxy.New(cfg, proxy.Options{Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Activate("l4", "http", "udp"); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	}
	return nil
}

// parseReals reads a comma-separated list of addresses, each weight 1.
func parseReals(list string) ([]proxy.RealConfig, error) {
	var reals []proxy.RealConfig
	for _, a := range strings.Split(list, ",") {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return nil, fmt.Errorf("parsing real %q: %w", a, err)
		}
		reals = append(reals, proxy.RealConfig{Address: ap, Weight: 1})
	}
	return reals, nil
}
