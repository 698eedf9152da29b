package persist

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestMarshalRoundTrip(t *testing.T) {
	es := []Entry{
		{Client: clientA, Real: real1, Expires: t0.Add(300 * time.Second)},
		{Client: client6, Real: netip.MustParseAddrPort("[2001:db8::2]:5060"), Expires: t0.Add(1500 * time.Millisecond)},
		{Client: clientB, Real: netip.MustParseAddrPort("[2001:db8::3]:443"), Expires: t0.Add(time.Hour)},
		{Client: netip.MustParseAddr("::ffff:198.18.4.4"), Real: real2, Expires: t0.Add(time.Second)}, // sent as IPv4
		{Client: netip.MustParseAddr("198.18.4.5"), Real: real2, Expires: t0},                         // expired: skipped
	}
	chunks, err := MarshalEntries("sip", es, t0, 1024)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("MarshalEntries = %d chunks, %v, want 1 chunk", len(chunks), err)
	}
	if got, want := len(chunks[0]), 2+3+14+(1+16+16+2+2)+(1+4+16+2+3)+14; got != want {
		t.Errorf("chunk length = %d, want %d", got, want)
	}
	later := t0.Add(time.Minute) // the receiver's clock: ttl is kept, not the wall time
	name, got, err := UnmarshalEntries(chunks[0], later)
	if err != nil || name != "sip" {
		t.Fatalf("UnmarshalEntries = %q, %v, want service sip", name, err)
	}
	want := []Entry{
		{Client: clientA, Real: real1, Expires: later.Add(300 * time.Second)},
		{Client: client6, Real: es[1].Real, Expires: later.Add(1500 * time.Millisecond)},
		{Client: clientB, Real: es[2].Real, Expires: later.Add(time.Hour)},
		{Client: netip.MustParseAddr("198.18.4.4"), Real: real2, Expires: later.Add(time.Second)},
	}
	if !slices.Equal(got, want) {
		t.Errorf("UnmarshalEntries = %v, want %v", got, want)
	}
}

func TestMarshalChunks(t *testing.T) {
	var es []Entry
	for i := range 1000 {
		es = append(es, Entry{
			Client:  netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}),
			Real:    real1,
			Expires: t0.Add(time.Duration(i+1) * time.Second),
		})
	}
	chunks, err := MarshalEntries("http", es, t0, 1024)
	if err != nil {
		t.Fatalf("MarshalEntries error: %v", err)
	}
	var all []Entry
	for i, c := range chunks {
		if len(c) > 1024 {
			t.Errorf("chunk %d is %d bytes, want at most 1024", i, len(c))
		}
		name, got, err := UnmarshalEntries(c, t0)
		if err != nil || name != "http" {
			t.Fatalf("UnmarshalEntries(chunk %d) = %q, %v, want service http", i, name, err)
		}
		all = append(all, got...)
	}
	if !slices.Equal(all, es) {
		t.Errorf("chunks decoded to %d entries, want the %d given, in order", len(all), len(es))
	}
	if len(chunks) > 15 {
		t.Errorf("1000 IPv4 entries took %d chunks of 1024 bytes, want at most 15", len(chunks))
	}
	if _, err := MarshalEntries("http", es, t0, 40); err == nil || !strings.Contains(err.Error(), `chunk size 40 too small for one entry of service "http", want at least 51`) {
		t.Errorf("MarshalEntries(max 40) error = %v, want chunk size too small", err)
	}
	long := strings.Repeat("s", MaxServiceName+1)
	if _, err := MarshalEntries(long, es, t0, 1024); err == nil || !strings.Contains(err.Error(), "longer than 64 bytes") {
		t.Errorf("MarshalEntries(65-byte name) error = %v, want name too long", err)
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	valid, _ := MarshalEntries("", []Entry{{Client: clientA, Real: real1, Expires: t0.Add(time.Second)}}, t0, 1024)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "chunk of 0 bytes, want at least 2"},
		{"version", []byte{2, 0}, "chunk version 2, want 1"},
		{"name overruns", []byte{1, 5, 'a', 'b'}, "service name of 5 bytes in a 4-byte chunk"},
		{"name too long", append([]byte{1, 65}, make([]byte, 65)...), "service name of 65 bytes"},
		{"flags", []byte{1, 1, 'h', 0x04}, `service "h": entry at offset 3: unknown flags 0x04`},
		{"short client", []byte{1, 0, 0, 198, 18}, "truncated or IPv4-mapped client address"},
		{"short real", []byte{1, 0, 0, 198, 18, 1, 1, 198}, "truncated or IPv4-mapped real address"},
		{"short port", []byte{1, 0, 0, 198, 18, 1, 1, 198, 18, 2, 1, 0}, "truncated real port"},
		{"no ttl", valid[0][:len(valid[0])-1], "truncated or overlong ttl"},
		{"overlong ttl", append(slices.Clone(valid[0][:len(valid[0])-1]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "truncated or overlong ttl"},
		{"ttl too long", append(slices.Clone(valid[0][:len(valid[0])-1]), 0x80, 0xc0, 0xe1, 0xa0, 0x9), "longer than 168h0m0s"},
		{"mapped client", append([]byte{1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 1, 1}, valid[0][7:]...), "IPv4-mapped client"},
		{"trailing garbage", append(slices.Clone(valid[0]), 0), "entry at offset 15: truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, es, err := UnmarshalEntries(tt.in, t0)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrMalformed) {
				t.Errorf("UnmarshalEntries(%x) = %v, %v, want error containing %q wrapping ErrMalformed", tt.in, es, err, tt.want)
			}
		})
	}
}

func FuzzUnmarshalEntries(f *testing.F) {
	seed, _ := MarshalEntries("http", []Entry{
		{Client: clientA, Real: real1, Expires: t0.Add(time.Second)},
		{Client: client6, Real: netip.MustParseAddrPort("[2001:db8::2]:5060"), Expires: t0.Add(time.Hour)},
	}, t0, 1024)
	f.Add(seed[0])
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 0, 3, 0xff})
	f.Add([]byte{1, 200, 'x'})
	f.Add([]byte{1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, es, err := UnmarshalEntries(b, t0)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes (one encoding per
		// entry), except that entries with a zero ttl are dropped.
		var live []Entry
		for _, e := range es {
			if e.Expires.After(t0) {
				live = append(live, e)
			}
		}
		chunks, err := MarshalEntries(name, live, t0, len(b)+maxEntrySize+2)
		if err != nil {
			t.Fatalf("MarshalEntries(decoded) error: %v", err)
		}
		if len(live) == 0 {
			return
		}
		if len(chunks) != 1 {
			t.Fatalf("re-encoding %d entries gave %d chunks, want 1", len(live), len(chunks))
		}
		name2, again, err := UnmarshalEntries(chunks[0], t0)
		if err != nil || name2 != name || !slices.Equal(again, live) {
			t.Fatalf("round trip = %q %v, %v, want %q %v", name2, again, err, name, live)
		}
	})
}
