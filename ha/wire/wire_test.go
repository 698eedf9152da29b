package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var (
	_ Signer   = (*testkit.Keys)(nil)
	_ Verifier = (*testkit.Keys)(nil)
)

// goldenKeys signs the golden vectors: key 1 is "hapair-test-key".
func goldenKeys() *testkit.Keys {
	return &testkit.Keys{Active: 1, Keys: map[uint8][]byte{1: []byte("hapair-test-key"), 2: []byte("other-key")}}
}

// goldenPacket is the packet in testdata/golden.hex.
func goldenPacket() *Packet {
	return &Packet{
		ClusterID:  0x0a0b0c0d,
		Sender:     "lb1",
		Generation: 7,
		Seq:        42,
		Keepalive:  200 * time.Millisecond,
		Flags:      FlagLeaving,
		Groups: []Group{
			{Name: "web", Priority: 100, State: 2},
			{Name: "mail", Priority: 50, State: 1},
		},
		Heard: []Heard{
			{Node: "lb2", Generation: 3, Age: 1200 * time.Millisecond},
			{Node: "lb3", Generation: 9, Age: 40 * time.Millisecond, Flags: HeardAlive},
		},
		Payload: []byte{0xde, 0xad, 0xbe, 0xef},
	}
}

// goldenV1Packet is the packet in testdata/golden_v1.hex, sealed by the
// version-1 encoder before version 2 existed: it must still decode.
func goldenV1Packet() *Packet {
	p := goldenPacket()
	p.Heard, p.Version1 = nil, true
	return p
}

// TestGoldenV1 decodes bytes made by the version-1 encoder and encodes
// them back: a version-2 node still understands a version-1 peer, and
// speaks version 1 to it byte for byte.
func TestGoldenV1(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "golden_v1.hex"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(want, goldenKeys())
	if err != nil {
		t.Fatalf("Open(golden v1) error: %v", err)
	}
	if !reflect.DeepEqual(p, goldenV1Packet()) {
		t.Errorf("Open(golden v1) = %+v, want %+v", p, goldenV1Packet())
	}
	got, err := Seal(goldenV1Packet(), goldenKeys())
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Seal(golden v1) = %x, %v, want %x", got, err, want)
	}
	if _, err := Seal(&Packet{Sender: "a", Version1: true, Heard: []Heard{{Node: "b"}}}, goldenKeys()); err == nil ||
		!strings.Contains(err.Error(), "version 1 has no heard list") {
		t.Errorf("Seal(version 1 with heard list) error = %v, want version 1 has no heard list", err)
	}
}

func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "golden.hex")
	got, err := Seal(goldenPacket(), goldenKeys())
	if err != nil {
		t.Fatalf("Seal(golden) error: %v", err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(hex.EncodeToString(got)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden vector (run with -update to create): %v", err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Seal(golden) =\n%x\nwant\n%x", got, want)
	}
	p, err := Open(want, goldenKeys())
	if err != nil {
		t.Fatalf("Open(golden) error: %v", err)
	}
	if !reflect.DeepEqual(p, goldenPacket()) {
		t.Errorf("Open(golden) = %+v, want %+v", p, goldenPacket())
	}
	// Pin the layout itself, not just our own round trip: the header
	// fields sit where the package doc says.
	if string(want[0:4]) != "HApr" || want[4] != 2 || want[5] != 1 || want[30] != 3 || string(want[31:34]) != "lb1" {
		t.Errorf("golden header = %x, want magic HApr, version 2, flags 1, sender len 3 \"lb1\"", want[:34])
	}
	// The heard list follows the groups: count, then "lb2", generation 3,
	// age 1.2s in microseconds, flags 0.
	heard := 34 + 1 + (1 + 3 + 2) + (1 + 4 + 2)
	if want[heard] != 2 || string(want[heard+2:heard+5]) != "lb2" || want[heard+12] != 3 ||
		binary.BigEndian.Uint32(want[heard+13:]) != 1200000 || want[heard+17] != 0 {
		t.Errorf("golden heard list = %x, want 2 entries, lb2 gen 3 age 1200000us flags 0", want[heard:heard+18])
	}
	if id, m := want[len(want)-2], want[len(want)-1]; id != 1 || m != 32 {
		t.Errorf("golden footer = key %d, MAC length %d, want key 1, length 32", id, m)
	}
}

func TestRoundTrip(t *testing.T) {
	maxNames := make([]Group, MaxGroups)
	for i := range maxNames {
		maxNames[i] = Group{Name: strings.Repeat("g", MaxGroupName-2) + string(rune('A'+i/26)) + string(rune('a'+i%26)), Priority: uint8(i), State: uint8(255 - i)}
	}
	maxHeard := make([]Heard, MaxHeard)
	for i := range maxHeard {
		maxHeard[i] = Heard{Node: strings.Repeat("h", MaxSender-2) + string(rune('A'+i/26)) + string(rune('a'+i%26)),
			Generation: ^uint64(0), Age: MaxAge, Flags: 0xff}
	}
	tests := []struct {
		name string
		p    Packet
	}{
		{"minimal", Packet{Sender: "a"}},
		{"golden", *goldenPacket()},
		{"unknown flags carried", Packet{Sender: "lb2", Flags: 0xfc}},
		{"version 1", *goldenV1Packet()},
		{"unknown heard flags carried", Packet{Sender: "lb2", Heard: []Heard{{Node: "lb1", Flags: 0xfe}}}},
		{"max everything", Packet{
			ClusterID: ^uint32(0), Sender: strings.Repeat("n", MaxSender), Generation: ^uint64(0), Seq: ^uint64(0),
			Keepalive: MaxKeepalive, Flags: 0xff, Groups: maxNames, Heard: maxHeard, Payload: bytes.Repeat([]byte{0xab}, MaxPayload),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Seal(&tt.p, goldenKeys())
			if err != nil {
				t.Fatalf("Seal() error: %v", err)
			}
			if len(b) > MaxPacketSize || len(b) < MinPacketSize {
				t.Errorf("len(Seal()) = %d, want %d..%d", len(b), MinPacketSize, MaxPacketSize)
			}
			got, err := Open(b, goldenKeys())
			if err != nil {
				t.Fatalf("Open(Seal()) error: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.p) {
				t.Errorf("Open(Seal(p)) = %+v, want %+v", *got, tt.p)
			}
		})
	}
	t.Run("max size", func(t *testing.T) {
		b, _ := Seal(&tests[len(tests)-1].p, goldenKeys())
		if len(b) != MaxBodySize+32+footerSize {
			t.Errorf("len(Seal(max)) = %d, want %d", len(b), MaxBodySize+32+footerSize)
		}
	})
}

func TestSealRejects(t *testing.T) {
	dup := []Group{{Name: "web"}, {Name: "web"}}
	tests := []struct {
		name string
		p    Packet
		want string
	}{
		{"empty sender", Packet{}, `encoding sender "": length 0, want 1..64`},
		{"long sender", Packet{Sender: strings.Repeat("x", 65)}, "length 65, want 1..64"},
		{"negative keepalive", Packet{Sender: "a", Keepalive: -1}, "encoding keepalive -1ns"},
		{"sub-microsecond keepalive", Packet{Sender: "a", Keepalive: 1500}, "encoding keepalive 1.5µs: want whole microseconds"},
		{"huge keepalive", Packet{Sender: "a", Keepalive: MaxKeepalive + time.Microsecond}, "want whole microseconds in 0..1h11m"},
		{"too many groups", Packet{Sender: "a", Groups: make([]Group, 65)}, "encoding 65 groups: at most 64"},
		{"empty group name", Packet{Sender: "a", Groups: []Group{{}}}, `encoding group "": name length 0, want 1..32`},
		{"long group name", Packet{Sender: "a", Groups: []Group{{Name: strings.Repeat("g", 33)}}}, "name length 33, want 1..32"},
		{"duplicate group", Packet{Sender: "a", Groups: dup}, `encoding group "web": duplicate name`},
		{"big payload", Packet{Sender: "a", Payload: make([]byte, 1025)}, "encoding payload of 1025 bytes: at most 1024"},
		{"too many heard", Packet{Sender: "a", Heard: make([]Heard, 33)}, "encoding 33 heard entries: at most 32"},
		{"empty heard node", Packet{Sender: "a", Heard: []Heard{{}}}, `encoding heard node "": name length 0, want 1..64`},
		{"negative age", Packet{Sender: "a", Heard: []Heard{{Node: "b", Age: -1}}}, `encoding heard node "b" age -1ns`},
		{"huge age", Packet{Sender: "a", Heard: []Heard{{Node: "b", Age: MaxAge + time.Microsecond}}}, "want whole microseconds in 0..1h11m"},
		{"duplicate heard", Packet{Sender: "a", Heard: []Heard{{Node: "b"}, {Node: "b"}}}, `encoding heard node "b": duplicate name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Seal(&tt.p, goldenKeys())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Seal(%s) = %x, %v, want error containing %q", tt.name, b, err, tt.want)
			}
			if _, err := tt.p.MarshalBinary(); err == nil {
				t.Errorf("MarshalBinary(%s) error = nil, want one", tt.name)
			}
		})
	}
}

// reseal replaces the footer of a sealed packet after letting edit change
// the body, so tests reach the decoder with a valid MAC.
func reseal(t *testing.T, edit func(body []byte) []byte) []byte {
	t.Helper()
	return resealPacket(t, goldenPacket(), edit)
}

func resealPacket(t *testing.T, p *Packet, edit func(body []byte) []byte) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	body := edit(b)
	id, mac := goldenKeys().Sign(body)
	return append(append(body, mac...), id, byte(len(mac)))
}

func TestOpenRejects(t *testing.T) {
	good, err := Seal(goldenPacket(), goldenKeys())
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	const (
		sn     = 30                                     // sender length offset
		groups = 34                                     // group count offset ("lb1" is 3 bytes)
		heard  = groups + 1 + (1 + 3 + 2) + (1 + 4 + 2) // heard count offset (after "web" and "mail")
	)
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		want    string
	}{
		{"empty", nil, ErrShort, "opening 0-byte packet: at least 53"},
		{"truncated", good[:len(good)-1], ErrMalformed, "MAC length"},
		{"truncated header", good[:MinPacketSize-1], ErrShort, "at least 53"},
		{"too long", make([]byte, MaxPacketSize+1), ErrMalformed, "at most"},
		{"MAC length zero", append(bytes.Clone(good[:len(good)-1]), 0), ErrMalformed, "MAC length 0: want 16..64"},
		{"MAC length over body", append(make([]byte, 58), 1, 64), ErrShort, "with 64-byte MAC: body of -6 bytes"},
		{"body bit flipped", flip(12), ErrBadMAC, "opening packet with key 1: bad MAC"},
		{"MAC bit flipped", flip(len(good) - 5), ErrBadMAC, "bad MAC"},
		{"other key id", func() []byte { b := bytes.Clone(good); b[len(b)-2] = 2; return b }(), ErrBadMAC, "key 2"},
		{"unknown key id", func() []byte { b := bytes.Clone(good); b[len(b)-2] = 9; return b }(), ErrBadMAC, "key 9"},
		{"MAC length shifted", func() []byte { b := bytes.Clone(good); b[len(b)-1] = 31; return b }(), ErrBadMAC, "bad MAC"},
		{"wrong magic", reseal(t, func(b []byte) []byte { b[0] = 'X'; return b }), ErrMalformed, `magic "XApr"`},
		{"version 3", reseal(t, func(b []byte) []byte { b[4] = 3; return b }), ErrVersion, "version 3: want 1 or 2"},
		{"version 1 with heard list", reseal(t, func(b []byte) []byte { b[4] = 1; return b }), ErrMalformed, "payload"},
		{"heard count over max", reseal(t, func(b []byte) []byte { b[heard] = 33; return b }), ErrMalformed, "heard count 33: at most 32"},
		{"heard count overflow", reseal(t, func(b []byte) []byte { b[heard] = 9; return b }), ErrMalformed, "decoding heard entry"},
		{"heard name empty", reseal(t, func(b []byte) []byte { b[heard+1] = 0; return b }), ErrMalformed, "heard entry 0 name length 0"},
		{"heard name overflow", reseal(t, func(b []byte) []byte { b[heard+1] = 64; return b }), ErrMalformed, "heard entry 0 of 78 bytes"},
		{"duplicate heard", reseal(t, func(b []byte) []byte { b[heard+21] = '2'; return b }), ErrMalformed, `heard node "lb2": duplicate name`},
		{"body cut in heard list", reseal(t, func(b []byte) []byte { return b[:heard+1] }), ErrMalformed, "heard entry 0: body ends"},
		{"sender length zero", reseal(t, func(b []byte) []byte { b[sn] = 0; return b }), ErrMalformed, "sender length 0"},
		{"sender length overflow", reseal(t, func(b []byte) []byte { b[sn] = 64; return b }), ErrMalformed, "sender of 64 bytes"},
		{"group count over max", reseal(t, func(b []byte) []byte { b[groups] = 65; return b }), ErrMalformed, "group count 65: at most 64"},
		{"group count overflow", reseal(t, func(b []byte) []byte { b[groups] = 9; return b }), ErrMalformed, "decoding group"},
		{"group name length overflow", reseal(t, func(b []byte) []byte { b[groups+1] = 32; return b }), ErrMalformed, "decoding group"},
		{"group name empty", reseal(t, func(b []byte) []byte { b[groups+1] = 0; return b }), ErrMalformed, "group 0 name length 0"},
		{"duplicate group", resealPacket(t, &Packet{Sender: "a", Groups: []Group{{Name: "web"}, {Name: "wab"}}},
			func(b []byte) []byte { b[41] = 'e'; return b }), ErrMalformed, `group "web": duplicate name`},
		{"payload length overflow", reseal(t, func(b []byte) []byte { b[len(b)-6] = 0xff; return b }), ErrMalformed, "payload length 65284: at most 1024"},
		{"payload length short", reseal(t, func(b []byte) []byte { b[len(b)-5] = 3; return b }), ErrMalformed, "payload of 3 bytes: 4 remain"},
		{"trailing byte", reseal(t, func(b []byte) []byte { return append(b, 0) }), ErrMalformed, "payload of 4 bytes: 5 remain"},
		{"body cut in header", reseal(t, func(b []byte) []byte { return b[:20] }), ErrShort, "body of 20 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(tt.in, goldenKeys())
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%s) = %+v, %v, want error %v containing %q", tt.name, p, err, tt.wantErr, tt.want)
			}
			if p != nil {
				t.Errorf("Open(%s) packet = %+v, want nil", tt.name, p)
			}
		})
	}
}

// TestOpenChecksMACFirst proves no body field is read before the MAC: a
// packet with garbage everywhere but a bad MAC reports ErrBadMAC, not a
// decoding error.
func TestOpenChecksMACFirst(t *testing.T) {
	b := bytes.Repeat([]byte{0xff}, 100)
	b[len(b)-1] = 32
	_, err := Open(b, goldenKeys())
	if !errors.Is(err, ErrBadMAC) {
		t.Errorf("Open(garbage with bad MAC) error = %v, want ErrBadMAC", err)
	}
}

func TestOpenIntoKeepsPacketOnError(t *testing.T) {
	p := goldenPacket()
	if err := OpenInto(p, []byte("short"), goldenKeys()); !errors.Is(err, ErrShort) {
		t.Fatalf("OpenInto(short) error = %v, want ErrShort", err)
	}
	if !reflect.DeepEqual(p, goldenPacket()) {
		t.Errorf("OpenInto(short) changed p to %+v", p)
	}
}

func TestOpenDoesNotAlias(t *testing.T) {
	b, err := Seal(goldenPacket(), goldenKeys())
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(b, goldenKeys())
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	if !reflect.DeepEqual(p, goldenPacket()) {
		t.Errorf("Open() result changed when its input was overwritten: %+v", p)
	}
}

func TestAppendSealReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, MaxPacketSize)
	b, err := AppendSeal(buf, goldenPacket(), goldenKeys())
	if err != nil {
		t.Fatal(err)
	}
	if &b[0] != &buf[:1][0] {
		t.Errorf("AppendSeal(buf with room) allocated a new buffer")
	}
	want, _ := Seal(goldenPacket(), goldenKeys())
	if !bytes.Equal(b, want) {
		t.Errorf("AppendSeal() = %x, want %x", b, want)
	}
	prefixed, err := AppendSeal([]byte("xy"), goldenPacket(), goldenKeys())
	if err != nil || !bytes.Equal(prefixed, append([]byte("xy"), want...)) {
		t.Errorf("AppendSeal(\"xy\") = %x, %v, want xy + %x", prefixed, err, want)
	}
}

type badSigner struct{ n int }

func (s badSigner) Sign([]byte) (uint8, []byte) { return 3, make([]byte, s.n) }

func TestSealRejectsBadMACSize(t *testing.T) {
	for _, n := range []int{0, 8, 65} {
		if _, err := Seal(goldenPacket(), badSigner{n}); err == nil || !strings.Contains(err.Error(), "sealing with key 3") {
			t.Errorf("Seal(signer with %d-byte MAC) error = %v, want sealing with key 3 error", n, err)
		}
	}
}

// TestClaimedSender reads the sender of a packet sealed with a key the
// receiver does not have, and nothing from bytes that are not a packet.
func TestClaimedSender(t *testing.T) {
	forged := &testkit.Keys{Active: 9, Keys: map[uint8][]byte{9: []byte("another secret")}}
	b, err := Seal(goldenPacket(), forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(b, goldenKeys()); !errors.Is(err, ErrBadMAC) {
		t.Fatalf("Open(forged) error = %v, want ErrBadMAC", err)
	}
	if got := ClaimedSender(b); string(got) != "lb1" {
		t.Errorf("ClaimedSender(forged) = %q, want lb1", got)
	}
	long := bytes.Clone(b)
	long[headerSize-1] = MaxSender + 1
	notMagic := bytes.Clone(b)
	notMagic[0] = 'X'
	for name, in := range map[string][]byte{
		"empty": nil, "header only": b[:headerSize], "not hapair": notMagic,
		"sender past the end": b[:headerSize+2], "sender length over the limit": long,
	} {
		if got := ClaimedSender(in); got != nil {
			t.Errorf("ClaimedSender(%s) = %q, want nil", name, got)
		}
	}
}
