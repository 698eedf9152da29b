// Command labprobe is the lab's client: a bounded probe loop against one
// target (198.18.0.0/15 or loopback only; see package probe) that prints a
// one-line summary on stderr and, with -json, the whole result on stdout.
//
//	labprobe -target 198.18.0.100:9000 -proto tcp -interval 10ms -count 500 -json
//
// It stops by itself after -count attempts or -duration, or on SIGTERM/SIGINT
// (reporting what it has). Exit status: 0 when every attempt succeeded, 1
// when some failed, 2 on bad flags.
//
// With -hold N it instead opens N TCP connections to the target, sends
// nothing (half-open requests, as a slow client would leave them), prints
// "held N" once they are open, and keeps them until -duration or a signal.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/hapair/hapair/test/lab/probe"
)

func main() {
	var o probe.Options
	target := flag.String("target", "", "address:port to probe (198.18.0.0/15 or loopback)")
	flag.StringVar(&o.Proto, "proto", "tcp", "tcp (banner line), http (GET /) or udp (echo)")
	flag.DurationVar(&o.Interval, "interval", 0, "time between attempts (default 10ms)")
	flag.DurationVar(&o.Timeout, "timeout", 0, "per attempt (default 200ms)")
	flag.IntVar(&o.Count, "count", 0, "attempts at most (default 100)")
	flag.DurationVar(&o.Duration, "duration", 0, "wall time at most (default count*interval+timeout)")
	asJSON := flag.Bool("json", false, "print the result as JSON on stdout")
	hold := flag.Int("hold", 0, "open this many idle TCP connections and keep them for -duration (at most 5000)")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*target)
	if err != nil {
		fmt.Fprintf(os.Stderr, "labprobe: -target %q: %v\n", *target, err)
		os.Exit(2)
	}
	o.Target = ap
	if err := o.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "labprobe: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *hold > 0 {
		os.Exit(holdConns(ctx, o, *hold))
	}
	res, err := probe.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "labprobe: %v\n", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "labprobe: "+res.Summary())
	for _, out := range res.Outages {
		fmt.Fprintf(os.Stderr, "labprobe: outage %v (%d failed) from %s\n",
			out.Length, out.Failed, out.Start.Format("15:04:05.000"))
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(os.Stderr, "labprobe: writing json: %v\n", err)
			os.Exit(2)
		}
	}
	if res.Failed > 0 {
		os.Exit(1)
	}
}

// holdConns opens n idle connections to o.Target (connected by the kernel,
// whether or not the far side accepted them yet) and keeps them for
// o.Duration or until ctx ends.
func holdConns(ctx context.Context, o probe.Options, n int) int {
	if n > 5000 || o.Duration <= 0 {
		fmt.Fprintln(os.Stderr, "labprobe: -hold wants at most 5000 connections and a -duration")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	d := net.Dialer{Timeout: o.Timeout}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := d.DialContext(ctx, "tcp", o.Target.String())
		if err != nil {
			fmt.Fprintf(os.Stderr, "labprobe: hold: %d open, then %v\n", len(conns), err)
			return 1
		}
		conns = append(conns, c)
	}
	fmt.Printf("held %d\n", len(conns))
	<-ctx.Done()
	return 0
}
