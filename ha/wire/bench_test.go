package wire

import (
	"strings"
	"testing"

	"github.com/hapair/hapair/authkeys"
)

// BenchmarkSeal measures encode + sign (HMAC-SHA256) of a two-group packet
// into a reused buffer, as ha/link sends it.
func BenchmarkSeal(b *testing.B) {
	p, keys := goldenPacket(), benchKeys(b)
	buf := make([]byte, 0, MaxPacketSize)
	b.ReportAllocs()
	for b.Loop() {
		out, err := AppendSeal(buf[:0], p, keys)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}

// BenchmarkOpen measures verify (HMAC-SHA256) + decode of the same packet.
func BenchmarkOpen(b *testing.B) {
	keys := benchKeys(b)
	sealed, err := Seal(goldenPacket(), keys)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(sealed)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(sealed, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshal isolates decoding from the MAC.
func BenchmarkUnmarshal(b *testing.B) {
	body, err := goldenPacket().MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var p Packet
	for b.Loop() {
		if err := p.UnmarshalBinary(body); err != nil {
			b.Fatal(err)
		}
	}
}

// benchKeys is the production keyring (authkeys, sha256) with the golden
// key, so the figures are what had pays per packet.
func benchKeys(b *testing.B) *authkeys.Keyring {
	kr, _, err := authkeys.Parse(strings.NewReader("auth 1\n1 sha256 hapair-test-key\n"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return kr
}
