#!/usr/bin/env bash
# fuzzsummary.sh LOG FUZZTIME [HOW]: turns the output of `make fuzz` (or
# fuzzstreams.sh's fuzz.log) into Markdown table rows (target, executions,
# new corpus entries, verdict) for chaos.md; HOW, when given, says how the
# targets ran in the heading.
# The log has "fuzz <pkg> <Target>" before each target (from the Makefile),
# then go test -fuzz's progress lines: "fuzz: elapsed: 2s, gathering
# baseline coverage: 269/269 completed, now fuzzing with 1 workers" once
# the corpus is replayed, then "fuzz: elapsed: 2m0s, execs: 123456 (...),
# new interesting: 7 (total: 30)". A target with no execs line either ran
# out of time replaying its corpus (the baseline never completed) or
# failed (on a corpus entry, or on a new input within the first seconds):
# the row says which, and where the failing input was written.
set -euo pipefail
log=$1 fuzztime=$2 how=${3:-}
echo
echo "## Fuzzing (FUZZTIME=$fuzztime per target${how:+, $how})"
echo
echo "| package | target | executions | new corpus entries | verdict |"
echo "|---|---|---|---|---|"
awk '
  function flush() {
    if (target == "") return
    if (execs == "-" && verdict != "ok") execs = "0 (failed " (fuzzing ? "after replaying the corpus: " : "replaying the corpus: ") base ")"
    else if (execs == "-" && !fuzzing && base != "") execs = "0 (time ran out replaying the corpus: " base ")"
    else if (execs == "-" && fuzzing) execs = "0"
    if (verdict != "ok" && input != "") verdict = verdict ": " input
    printf "| %s | %s | %s | %s | %s |\n", pkg, target, execs, fresh, verdict
  }
  /^fuzz [^:]/ { flush(); pkg = $2; target = $3; execs = "-"; fresh = "-"; verdict = "ok"; base = ""; fuzzing = 0; input = "" }
  /gathering baseline coverage: / {
    match($0, /coverage: [0-9]+\/[0-9]+/); base = substr($0, RSTART + 10, RLENGTH - 10)
    if ($0 ~ /now fuzzing/) fuzzing = 1
  }
  /execs: / {
    match($0, /execs: [0-9]+/); execs = substr($0, RSTART + 7, RLENGTH - 7)
    if (match($0, /new interesting: [0-9]+/)) fresh = substr($0, RSTART + 17, RLENGTH - 17)
  }
  /Failing input written to / { input = $NF }
  /^--- FAIL|^FAIL/ { verdict = "FAIL" }
  END { flush() }
' "$log"
