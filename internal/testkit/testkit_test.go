package testkit

import (
	"sync/atomic"
	"testing"
)

func TestKeysSignVerify(t *testing.T) {
	k := Keyring("secret")
	id, mac := k.Sign([]byte("msg"))
	if id != 1 || !k.Verify(id, []byte("msg"), mac) {
		t.Fatalf("Verify(Sign(msg)) = false, want true (id %d)", id)
	}
	if k.Verify(id, []byte("other"), mac) || k.Verify(2, []byte("msg"), mac) || Keyring("guess").Verify(id, []byte("msg"), mac) {
		t.Errorf("Verify accepted another message, key id or secret")
	}
}

func TestPollSeesAnotherGoroutine(t *testing.T) {
	var done atomic.Bool
	go done.Store(true)
	if !Poll(done.Load) {
		t.Errorf("Poll did not see the store within %v", WaitTimeout)
	}
}
