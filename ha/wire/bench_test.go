package wire

import "testing"

// BenchmarkSeal measures encode + sign (HMAC-SHA256) of a two-group packet
// into a reused buffer, as ha/link sends it.
func BenchmarkSeal(b *testing.B) {
	p, keys := goldenPacket(), goldenKeys()
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
	keys := goldenKeys()
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
