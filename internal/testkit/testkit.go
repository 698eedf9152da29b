// Package testkit holds the helpers hapair's tests share: a bounded
// wait-for, an HMAC-SHA256 test keyring, and fake pickers for the
// balancer's data paths. Tests advance a clocktest.Clock instead of
// sleeping; WaitFor is for conditions another goroutine makes true.
//
// It is imported by _test.go files only; it must not import ha/ or proxy/
// packages, so that their tests can use it without import cycles.
package testkit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds every WaitFor. It is generous because the race detector
// and a loaded machine slow goroutines down; a passing test waits far less.
const WaitTimeout = 10 * time.Second

// WaitFor polls cond until it reports true and fails t, naming what it
// awaited, if that takes longer than WaitTimeout. cond runs on the calling
// goroutine.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(cond) {
		t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
	}
}

// Poll polls cond every millisecond until it reports true or WaitTimeout
// passes, and reports whether it did: for goroutines that cannot call
// t.Fatal, and for callers that print their own failure.
func Poll(cond func() bool) bool {
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond) // the polling period, not a stand-in for the condition
	}
	return true
}

// AwaitGoroutines waits until at most n goroutines run (n from
// runtime.NumGoroutine before the code under test started) and fails t with
// every goroutine's stack if they do not end within WaitTimeout: the leak
// check of shells that start goroutines.
func AwaitGoroutines(t testing.TB, n int) {
	t.Helper()
	if Poll(func() bool { return runtime.NumGoroutine() <= n }) {
		return
	}
	buf := make([]byte, 1<<20)
	t.Errorf("goroutines leaked: %d running, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
}

// Keys is an HMAC-SHA256 keyring standing in for *authkeys.Keyring (it has
// the same Sign and Verify), so packages below authkeys test without it.
// The zero value signs with key 0 and verifies nothing.
type Keys struct {
	Active uint8            // the key id Sign uses (authkeys' "auth N")
	Keys   map[uint8][]byte // secrets by key id
}

// Keyring returns keys holding secret as key 1, the active one.
func Keyring(secret string) *Keys {
	return &Keys{Active: 1, Keys: map[uint8][]byte{1: []byte(secret)}}
}

// Sign returns the active key id and the HMAC-SHA256 of msg.
func (k *Keys) Sign(msg []byte) (uint8, []byte) {
	m := hmac.New(sha256.New, k.Keys[k.Active])
	m.Write(msg)
	return k.Active, m.Sum(nil)
}

// Verify reports whether mac is msg's HMAC-SHA256 under key id.
func (k *Keys) Verify(id uint8, msg, mac []byte) bool {
	key, ok := k.Keys[id]
	if !ok {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hmac.Equal(m.Sum(nil), mac)
}

// EqualLines fails t unless got and want hold the same lines in the same
// order, printing both, one item a line.
func EqualLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

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

// Buffer is a bytes.Buffer safe for concurrent use: the log output of a
// shell's goroutines. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
