#!/usr/bin/env bash
# fuzzsummary.sh LOG FUZZTIME: turns the output of `make fuzz` into Markdown
# table rows (target, executions, new corpus entries, verdict) for chaos.md.
# go test -fuzz prints "fuzz <pkg> <Target>" (from the Makefile) and then
# progress lines "fuzz: elapsed: 2m0s, execs: 123456 (...), new interesting: 7 (total: 30)".
set -euo pipefail
log=$1 fuzztime=$2
echo
echo "## Fuzzing (make fuzz FUZZTIME=$fuzztime)"
echo
echo "| package | target | executions | new corpus entries | verdict |"
echo "|---|---|---|---|---|"
awk '
  function flush() {
    if (target != "") printf "| %s | %s | %s | %s | %s |\n", pkg, target, execs, fresh, verdict
  }
  /^fuzz [^:]/ { flush(); pkg = $2; target = $3; execs = "-"; fresh = "-"; verdict = "ok" }
  # FUZZTIME shorter than replaying the corpus: say how far the baseline got.
  /gathering baseline coverage: / && execs ~ /^(-|0 )/ {
    match($0, /coverage: [0-9]+\/[0-9]+/); execs = "0 (time ran out replaying the corpus: " substr($0, RSTART + 10, RLENGTH - 10) ")"
  }
  /execs: / {
    match($0, /execs: [0-9]+/); execs = substr($0, RSTART + 7, RLENGTH - 7)
    if (match($0, /new interesting: [0-9]+/)) fresh = substr($0, RSTART + 17, RLENGTH - 17)
  }
  /^--- FAIL|^FAIL/ { verdict = "FAIL" }
  END { flush() }
' "$log"
