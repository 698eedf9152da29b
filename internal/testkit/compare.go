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

// Substrings fails t for each string of want that text lacks and each of
// notWant that it has, naming what and printing text.
func Substrings(t testing.TB, what, text string, want, notWant []string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(text, s) {
			t.Errorf("%s lacks %q:\n%s", what, s, text)
		}
	}
	for _, s := range notWant {
		if strings.Contains(text, s) {
			t.Errorf("%s has %q, want it absent:\n%s", what, s, text)
		}
	}
}

// WantError checks the error of a table case's call: want is the text the
// error must contain, "" for a call that must succeed. It fails t, naming
// what, when err is missing, unwanted or lacks want, and reports whether
// the case is over (an error was wanted or came): the caller returns, and
// checks the results only of a call that succeeded as wanted.
func WantError(t testing.TB, what string, err error, want string) (done bool) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s error = %v, want none", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s error = %v, want one containing %q", what, err, want)
	}
	return want != "" || err != nil
}
