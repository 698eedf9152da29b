package testkit

import (
	"crypto/hmac"
	"crypto/sha256"
)

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
