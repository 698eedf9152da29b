#!/usr/bin/env bash
# fuzztargets.sh: prints every fuzz target of the module, one "PACKAGE
# TARGET" line each, in `go list ./...` order: every package's *_test.go
# functions named Fuzz*. `make fuzz` and fuzzstreams.sh run this list, so
# a new target is fuzzed without being listed anywhere. GO names the go
# command (default go).
set -euo pipefail
GO=${GO:-go}
for pkg in $($GO list ./...); do
	dir=$($GO list -f '{{.Dir}}' "$pkg")
	for t in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "$pkg $t"
	done
done
