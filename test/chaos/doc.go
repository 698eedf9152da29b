// Package chaos is hapair's chaos and soak suite (issue 15): it runs a pair
// in the namespace lab of test/lab under loss, one-way loss, partitions,
// crashes, a heartbeat flood and CPU pressure (realtime off and on), side by side with keepalived (Debian's, VRRPv3) as the anchor,
// and writes a Markdown table of the figures with the raw logs beside it.
//
// It is a test package gated by HAPAIR_CHAOS: unset, every test skips (so
// `make unit` stays fast); "short" runs every scenario scaled down to fit
// CI (`make chaos-short`, under 3 minutes); "full" runs the counts of the
// issue (`make chaos`: 10-minute soaks, 100 crash cycles, 50 partitions).
// HAPAIR_CHAOS_OUT names the directory for the table (chaos.md) and the raw
// logs (default: a new directory under the system temp dir).
// HAPAIR_CHAOS_SOAK overrides the length of each loss soak phase (a Go
// duration, at most 10m), e.g. to reproduce a soak figure in minutes.
// Like test/e2e it needs root; with HAPAIR_E2E=1 a missing capability is a
// failure.
//
// Every scenario is bounded in time and count; the lab removes every
// namespace, nftables table and process it made when the test ends, also on
// failure, and kills only the PIDs it started.
package chaos
