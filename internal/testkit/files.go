package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteScript writes an executable shell script (#!/bin/sh, then body
// ending in a newline) named name into dir and returns its path.
func WriteScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
