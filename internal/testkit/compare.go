package testkit

import (
	"slices"
	"strings"
	"testing"
)

// EqualLines fails t unless got and want hold the same lines in the same
// order, printing both, one item a line.
func EqualLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
