package main

import (
	"flag"
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

// The hapair child's services (-serve-hapair): listen addresses and reals,
// checked by flag.Parse.
var (
	l4Listen, httpListen, udpListen netip.AddrPort
	reals, udpReals                 realList
)

func init() {
	flag.TextVar(&l4Listen, "l4", netip.AddrPort{}, "internal: hapair L4 listen `address`")
	flag.TextVar(&httpListen, "http", netip.AddrPort{}, "internal: hapair HTTP listen `address`")
	flag.TextVar(&udpListen, "udp", netip.AddrPort{}, "internal: hapair UDP listen `address`")
	flag.Var(&reals, "reals", "internal: comma-separated real `addresses`")
	flag.Var(&udpReals, "udp-reals", "internal: comma-separated UDP real `addresses`")
}

// serveHapair runs a proxy.Balancer with an L4, an HTTP and a UDP service over
// the given reals until SIGTERM: the same code path had runs, without had.
func serveHapair() error {
	cfg := proxy.Config{Services: []proxy.ServiceConfig{
		{Name: "l4", Listen: l4Listen, Mode: "l4", Scheduler: "rr", Reals: reals},
		{Name: "http", Listen: httpListen, Mode: "http", Scheduler: "rr", Reals: reals},
		{Name: "udp", Listen: udpListen, Protocol: "udp", Scheduler: "rr", Reals: udpReals},
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

// realList is a flag.Value: a comma-separated list of addresses, each a
// real of weight 1.
type realList []proxy.RealConfig

func (l *realList) Set(list string) error {
	*l = nil
	for _, a := range strings.Split(list, ",") {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return fmt.Errorf("parsing real %q: %w", a, err)
		}
		*l = append(*l, proxy.RealConfig{Address: ap, Weight: 1})
	}
	return nil
}

func (l *realList) String() string {
	var as []string
	for _, r := range *l {
		as = append(as, r.Address.String())
	}
	return strings.Join(as, ",")
}
