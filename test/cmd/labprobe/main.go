// Command labprobe is the lab's client: a bounded probe loop against one
// target (198.18.0.0/15 or loopback only; see package probe) that prints a
// one-line summary on stderr and, with -json, the whole result on stdout.
//
//	labprobe -target 198.18.0.100:9000 -proto tcp -interval 10ms -count 500 -json
//
// It stops by itself after -count attempts or -duration, or on SIGTERM/SIGINT
// (reporting what it has). Exit status: 0 when every attempt succeeded, 1
// when some failed, 2 on bad flags.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
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
