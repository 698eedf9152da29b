#!/usr/bin/env bash
# make bench: the balancer side by side with HAProxy and nginx on loopback.
# Installs haproxy, nginx (+ stream module) and wrk with apt-get when
# missing, builds the bench program and had, runs them (about 14 minutes
# with the defaults: 9 interleaved rounds of 4 s per target, pinned, and
# 30 s of the idle daemon) and prints the tables. Extra arguments go to the
# program (e.g. -d 10s, -rounds 3, -pin=false, -mode http, -conn close,
# -only hapair, -profile /tmp/hapair.pprof, -idle 0, -samples
# /tmp/rounds.tsv to keep every round for `bench -pool`).
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=""
command -v wrk     >/dev/null 2>&1 || missing="$missing wrk"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v nginx   >/dev/null 2>&1 || missing="$missing nginx"
command -v taskset >/dev/null 2>&1 || missing="$missing util-linux"
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
# The kernel nat bench below (root only) builds lab namespaces with ip and
# nft: without them it would only say it skipped.
if [ "$(id -u)" = 0 ]; then
  command -v nft >/dev/null 2>&1 || missing="$missing nftables"
  command -v ip  >/dev/null 2>&1 || missing="$missing iproute2"
fi
if [ -n "$missing" ]; then bash test/apt-install.sh $missing; fi
bin=$(mktemp -d /tmp/hapair-bench-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench" ./test/bench
go build -o "$bin/had" ./cmd/had
echo "machine load before the bench: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/bench" -had "$bin/had" "$@"
# The kernel nat method in lab namespaces (needs root), beside HAProxy tcp
# mode and nginx stream.
if [ "$(id -u)" = 0 ]; then
  HAPAIR_KBENCH=1 go test -count=1 -run '^TestBenchNAT$' -v ./test/kernel | grep -v '^=== RUN'
else
  echo "kernel nat bench skipped: needs root for lab namespaces"
fi
