package psync

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var examples = []Message{
	{Type: Hello, N: 1},
	{Type: Hello, N: 7, Acks: []Ack{{Name: "lb1", Generation: 3, N: 1 << 40, Synced: true}, {Name: "lb3", Generation: 1}}},
	{Type: Delta, N: 2, Chunk: []byte{1, 4, 'h', 't', 't', 'p', 0, 198, 18, 1, 1, 198, 18, 2, 1, 0, 80, 100}},
	{Type: Begin, N: 3, Epoch: 1},
	{Type: Part, N: 4, Epoch: 1, Chunk: []byte{1, 1, 'x'}},
	{Type: End, N: 5, Epoch: 1, Parts: 1},
}

func TestRoundTrip(t *testing.T) {
	for _, m := range examples {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(%+v) error: %v", m, err)
		}
		var got Message
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(%x) error: %v", b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %+v = %+v", m, got)
		}
	}
}

func TestMarshalRefuses(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"unknown type", Message{Type: 9}, "unknown type 9"},
		{"too big", Message{Type: Delta, Chunk: make([]byte, MaxSize)}, "at most 1024"},
		{"empty ack name", Message{Type: Hello, Acks: []Ack{{}}}, "name length 0"},
		{"too many acks", Message{Type: Hello, Acks: make([]Ack, MaxAcks+1)}, "33 acks"},
	}
	for _, tt := range tests {
		if _, err := tt.m.MarshalBinary(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: MarshalBinary() error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "offset 0: truncated"},
		{"version", []byte{2, 1, 1, 0}, "version 2, want 1"},
		{"type", []byte{1, 0, 1}, "unknown type 0"},
		{"overlong n", []byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "overlong uvarint"},
		{"acks", []byte{1, 1, 1, 33}, "33 acks"},
		{"ack name", []byte{1, 1, 1, 1, 0}, "name length 0"},
		{"ack truncated", []byte{1, 1, 1, 1, 3, 'l', 'b'}, "truncated: 2 bytes left, want 3"},
		{"ack flags", []byte{1, 1, 1, 1, 1, 'a', 1, 1, 2}, "unknown flags 0x02"},
		{"end trailing", []byte{1, 5, 1, 1, 1, 0}, "1 trailing bytes after a end message"},
		{"begin truncated", []byte{1, 3, 1}, "truncated or overlong"},
		{"too big", append([]byte{1, 2, 1}, make([]byte, MaxSize)...), "at most 1024"},
	}
	for _, tt := range tests {
		var m Message
		err := m.UnmarshalBinary(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: UnmarshalBinary(%x) error = %v, want one containing %q wrapping ErrMalformed", tt.name, tt.in, err, tt.want)
		}
	}
}

// FuzzUnmarshal: no input panics the decoder, and whatever decodes
// encodes to a message that decodes the same (uvarints may be
// re-encoded shorter).
func FuzzUnmarshal(f *testing.F) {
	for _, m := range examples {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(decoded %+v) error: %v", m, err)
		}
		var m2 Message
		if err := m2.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-decoding = %+v, %v, want %+v", m2, err, m)
		}
	})
}
