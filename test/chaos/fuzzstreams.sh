#!/usr/bin/env bash
# fuzzstreams.sh OUT FUZZTIME [STREAMS] < LIST: fuzzes every "PACKAGE
# TARGET" line of LIST (fuzztargets.sh's output) for FUZZTIME each, in
# STREAMS (default 2) streams running side by side, each taking every
# STREAMS-th target in turn, one target at a time, at nice 19 with one
# fuzz worker (-parallel=1). `make chaos` runs it in the background of the
# scenarios: at nice 19 the fuzzers take only the CPU the scenarios leave
# idle (had runs SCHED_RR there), so the scenarios' timing figures hold.
#
# Each target's output goes to OUT/fuzz/NN-TARGET.log, headed by "fuzz
# PACKAGE TARGET" as `make fuzz` prints it; at the end OUT/fuzz.log is all
# of them in LIST order, for fuzzsummary.sh. The exit status is 1 when any
# target failed. Stopped by SIGINT, SIGTERM or SIGHUP, it stops its
# streams (each in a process group of its own, killed by that PID) and
# waits for them: no fuzzer is left running. GO names the go command.
set -uo pipefail
out=$1 fuzztime=$2 streams=${3:-2}
GO=${GO:-go}
mkdir -p "$out/fuzz"
rm -f "$out"/fuzz/*.log "$out/fuzz.log"
mapfile -t list
if [ ${#list[@]} -eq 0 ]; then
	echo "fuzzstreams.sh: no fuzz targets on stdin (want fuzztargets.sh's lines)" >&2
	exit 2
fi
set -m # each stream is a job with its own process group
pids=()
stop() {
	for p in "${pids[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null
	done
	wait
	exit 130
}
trap stop INT TERM HUP
for ((s = 0; s < streams; s++)); do
	(
		failed=0
		for ((i = s; i < ${#list[@]}; i += streams)); do
			read -r pkg t <<<"${list[i]}"
			log=$(printf '%s/fuzz/%02d-%s.log' "$out" "$i" "$t")
			{
				echo "fuzz $pkg $t"
				nice -n 19 $GO test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" -parallel=1 "$pkg" 2>&1
			} >"$log" || failed=1
		done
		exit $failed
	) &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do
	wait "$p" || rc=1
done
pids=()
for ((i = 0; i < ${#list[@]}; i++)); do
	read -r _ t <<<"${list[i]}"
	cat "$(printf '%s/fuzz/%02d-%s.log' "$out" "$i" "$t")" 2>/dev/null
done >"$out/fuzz.log"
exit $rc
