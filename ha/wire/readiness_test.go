package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestReadinessRoundTrip(t *testing.T) {
	rs := []Readiness{{Flags: ReadyHealthyKnown, Healthy: 2}, {Flags: ReadyNotReady}, {Flags: ReadyHealthyKnown | ReadyNotReady | 0x80, Healthy: 65535}}
	b, err := AppendReadiness(nil, rs)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{PayloadReadiness, 3, 1, 0, 2, 2, 0, 0, 0x83, 0xff, 0xff}
	if !bytes.Equal(b, want) {
		t.Fatalf("AppendReadiness = %x, want %x", b, want)
	}
	got, err := ParseReadiness(b, 3)
	if err != nil || !reflect.DeepEqual(got, rs) {
		t.Fatalf("ParseReadiness = %+v, %v, want %+v", got, err, rs)
	}
	if got, err := ParseReadiness(nil, 3); got != nil || err != nil {
		t.Errorf("ParseReadiness(empty) = %v, %v, want nil, nil (says nothing)", got, err)
	}
	if _, err := AppendReadiness(nil, make([]Readiness, MaxGroups+1)); err == nil {
		t.Errorf("AppendReadiness(%d entries) = nil error, want at most %d", MaxGroups+1, MaxGroups)
	}
	// A packet carrying the most groups still has room for it.
	if b, _ := AppendReadiness(nil, make([]Readiness, MaxGroups)); len(b) > MaxPayload {
		t.Errorf("readiness of %d groups takes %d bytes, more than MaxPayload %d", MaxGroups, len(b), MaxPayload)
	}
}

func TestParseReadinessRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		groups  int
		want    string
	}{
		{"short", []byte{1}, 1, "header needs 2"},
		{"other type", []byte{2, 1, 0, 0, 0}, 1, "payload type 2"},
		{"count differs from groups", []byte{1, 2, 0, 0, 0, 0, 0, 0}, 1, "the packet has 1"},
		{"truncated", []byte{1, 2, 0, 0, 0, 0, 0}, 2, "7 bytes, want 8"},
		{"trailing", []byte{1, 1, 0, 0, 0, 9}, 1, "6 bytes, want 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReadiness(tc.payload, tc.groups)
			if !errors.Is(err, ErrMalformed) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("ParseReadiness(%x, %d) error = %v, want ErrMalformed saying %q", tc.payload, tc.groups, err, tc.want)
			}
		})
	}
}

// FuzzReadiness: ParseReadiness never panics, and a payload it accepts
// encodes back to the same bytes (one encoding per readiness).
func FuzzReadiness(f *testing.F) {
	f.Add([]byte{PayloadReadiness, 2, 1, 0, 2, 2, 0, 0}, 2)
	f.Add([]byte{PayloadReadiness, 1, 0xff, 0xff, 0xff}, 1)
	f.Add([]byte{PayloadReadiness, 0xff}, 255)
	f.Add([]byte{}, 0)
	f.Add(append([]byte{PayloadReadiness, 65}, make([]byte, 65*readyEntrySize)...), 65)
	f.Fuzz(func(t *testing.T, b []byte, groups int) {
		rs, err := ParseReadiness(b, groups)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseReadiness(%x, %d) error = %v, want ErrMalformed", b, groups, err)
			}
			return
		}
		if len(b) == 0 {
			return
		}
		again, err := AppendReadiness(nil, rs)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("AppendReadiness(ParseReadiness(%x)) = %x, %v, want the input", b, again, err)
		}
	})
}
