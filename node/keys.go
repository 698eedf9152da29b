package node

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hapair/hapair/authkeys"
	"github.com/hapair/hapair/internal/config"
)

// keys is the keyring the links sign and verify heartbeats with. A reload
// reads the authkeys file again and swaps it in when it changed, as
// Heartbeat re-reads authkeys at a reload: keys rotate the way
// authkeys.sample says (add the new key on every node, move auth to it,
// remove the old one) with no restart and so no failover.
type keys struct {
	kr atomic.Pointer[authkeys.Keyring]
}

func newKeys(kr *authkeys.Keyring) *keys {
	k := &keys{}
	k.kr.Store(kr)
	return k
}

// Sign and Verify make keys a link.Keyring.
func (k *keys) Sign(msg []byte) (uint8, []byte)          { return k.kr.Load().Sign(msg) }
func (k *keys) Verify(keyID uint8, msg, mac []byte) bool { return k.kr.Load().Verify(keyID, msg, mac) }

// reload loads cfg's authkeys file as had does at start (authkeys.Load:
// mode, owner, format) and returns the keyring to swap in and the line a
// reload prints, or neither when the file holds the keys in use. The
// error is placed at cluster.authkeys.
func (k *keys) reload(cfg *config.Config) (line string, next *authkeys.Keyring, err error) {
	kr, _, err := authkeys.Load(cfg.Cluster.Authkeys)
	if err != nil {
		return "", nil, cfg.AuthkeysError(err)
	}
	if kr.Equal(k.kr.Load()) {
		return "", nil, nil
	}
	ids := make([]string, 0, len(kr.KeyIDs()))
	for _, id := range kr.KeyIDs() {
		ids = append(ids, strconv.Itoa(int(id)))
	}
	return fmt.Sprintf("authkeys %s: keys %s, signing with %d", cfg.Cluster.Authkeys, strings.Join(ids, ", "), kr.SignKeyID()), kr, nil
}

// swap makes kr the keyring of every link, for the next packet sent or
// received.
func (k *keys) swap(kr *authkeys.Keyring) { k.kr.Store(kr) }
