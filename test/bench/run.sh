#!/usr/bin/env bash
# make bench: the balancer side by side with HAProxy and nginx on loopback.
# Installs haproxy, nginx (+ stream module) and wrk with apt-get when
# missing, builds the bench program, runs it (about 90 s with the default
# 5 s per run) and prints the table. Extra arguments go to the program
# (e.g. -d 10s, -c 100, -only hapair, -profile /tmp/hapair.pprof).
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=""
command -v wrk     >/dev/null 2>&1 || missing="$missing wrk"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v nginx   >/dev/null 2>&1 || missing="$missing nginx"
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
  else
    echo "missing:$missing (no apt-get; install them by hand)" >&2
    exit 1
  fi
fi
bin=$(mktemp -d /tmp/hapair-bench-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench" ./test/bench
"$bin/bench" "$@"
# The kernel nat method in lab namespaces (needs root), beside HAProxy tcp
# mode and nginx stream.
if [ "$(id -u)" = 0 ]; then
  HAPAIR_KBENCH=1 go test -count=1 -run '^TestBenchNAT$' -v ./test/kernel | grep -v '^=== RUN'
else
  echo "kernel nat bench skipped: needs root for lab namespaces"
fi
