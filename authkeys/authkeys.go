package authkeys

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"sync"
)

// MaxMACSize is the largest MAC any supported method produces (32, sha256).
const MaxMACSize = sha256.Size

// method is one accepted MAC algorithm.
type method struct {
	name   string
	hash   func() hash.Hash
	size   int
	legacy bool // accepted for migration from Heartbeat, warned about
}

// methods are the accepted algorithms, by Heartbeat's names.
var methods = map[string]method{
	"sha256": {name: "sha256", hash: sha256.New, size: sha256.Size},
	"sha1":   {name: "sha1", hash: sha1.New, size: sha1.Size, legacy: true},
	"md5":    {name: "md5", hash: md5.New, size: md5.Size, legacy: true},
}

// refused are methods Heartbeat knows that hapair will not run with, and why.
var refused = map[string]string{
	"crc": "crc is a checksum, not a MAC: anyone on the link could forge heartbeats; use sha256",
}

// key is one "N method secret" line.
type key struct {
	m      method
	secret []byte
	// macs holds idle HMAC states keyed with secret: building one costs
	// several allocations, and every heartbeat sent or received needs one.
	macs sync.Pool
}

// Keyring holds the keys of one authkeys file: the one that signs and every
// one that verifies. See the package doc for the zero value and concurrency.
type Keyring struct {
	signID uint8
	keys   [256]*key // index = key id; 0 is never used
}

// Sign returns the key id of the `auth N` key and the MAC of msg under it.
func (k *Keyring) Sign(msg []byte) (keyID uint8, mac []byte) {
	if k == nil || k.keys[k.signID] == nil {
		return 0, nil
	}
	return k.signID, k.keys[k.signID].mac(msg)
}

// Verify reports whether mac is the MAC of msg under key keyID (constant time).
// An unknown key id, including 0, never verifies.
func (k *Keyring) Verify(keyID uint8, msg, mac []byte) bool {
	if k == nil || k.keys[keyID] == nil {
		return false
	}
	kk := k.keys[keyID]
	st := kk.state()
	ok := hmac.Equal(st.sum(msg), mac)
	kk.macs.Put(st)
	return ok
}

// SignKeyID returns the id named by the `auth N` line (0 for the zero Keyring).
func (k *Keyring) SignKeyID() uint8 {
	if k == nil {
		return 0
	}
	return k.signID
}

// MACSize returns the length of the MACs key keyID produces: 32 for sha256,
// 20 for sha1, 16 for md5, 0 when there is no such key. The packet codec uses
// it to split a received packet into body and MAC before verifying.
func (k *Keyring) MACSize(keyID uint8) int {
	if k == nil || k.keys[keyID] == nil {
		return 0
	}
	return k.keys[keyID].m.size
}

// KeyIDs returns the ids of every key, ascending.
func (k *Keyring) KeyIDs() []uint8 {
	if k == nil {
		return nil
	}
	var ids []uint8
	for id, kk := range k.keys {
		if kk != nil {
			ids = append(ids, uint8(id))
		}
	}
	return ids
}

// Method returns the method name of key keyID ("sha256", "sha1", "md5"), or ""
// when there is no such key. It never reveals the secret.
func (k *Keyring) Method(keyID uint8) string {
	if k == nil || k.keys[keyID] == nil {
		return ""
	}
	return k.keys[keyID].m.name
}

// macState is an HMAC state keyed with one secret and room for its sum, so
// verifying a packet (a forged one in a flood, too) allocates nothing.
type macState struct {
	h   hash.Hash
	buf [MaxMACSize]byte
}

// sum returns the MAC of msg in st's buffer, valid until st is reused.
func (st *macState) sum(msg []byte) []byte {
	st.h.Reset()
	st.h.Write(msg)
	return st.h.Sum(st.buf[:0])
}

func (kk *key) state() *macState {
	if st, ok := kk.macs.Get().(*macState); ok {
		return st
	}
	return &macState{h: hmac.New(kk.m.hash, kk.secret)}
}

func (kk *key) mac(msg []byte) []byte {
	st := kk.state()
	sum := append([]byte(nil), st.sum(msg)...)
	kk.macs.Put(st)
	return sum
}

// Equal reports whether k and o sign with the same key id and hold the
// same keys: ids, methods and secrets.
func (k *Keyring) Equal(o *Keyring) bool {
	if k.signID != o.signID {
		return false
	}
	for id := range k.keys {
		a, b := k.keys[id], o.keys[id]
		switch {
		case a == nil && b == nil:
		case a == nil || b == nil, a.m.name != b.m.name, !hmac.Equal(a.secret, b.secret):
			return false
		}
	}
	return true
}
