package wire

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// unmarshalSeeds are the committed seeds of FuzzUnmarshal (testdata/fuzz,
// rewritten by TestSeedCorpus with -update): a valid body, length fields
// pointing past the end, and a truncated body.
func unmarshalSeeds(t testing.TB) map[string][]byte {
	body, err := goldenPacket().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	senderOverflow := bytes.Clone(body)
	senderOverflow[30] = 0xff
	groupOverflow := bytes.Clone(body)
	groupOverflow[34] = 0xff
	payloadOverflow := bytes.Clone(body)
	payloadOverflow[len(body)-6] = 0xff
	v1, err := goldenV1Packet().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	heardOverflow := bytes.Clone(body)
	heardOverflow[48] = 0xff // heard count of the golden packet
	return map[string][]byte{
		"valid":            body,
		"valid-v1":         v1,
		"heard-overflow":   heardOverflow,
		"sender-overflow":  senderOverflow,
		"group-overflow":   groupOverflow,
		"payload-overflow": payloadOverflow,
		"truncated":        body[:len(body)-3],
		"header-only":      body[:headerSize],
	}
}

type roundTripSeed struct {
	cluster   uint32
	sender    string
	gen, seq  uint64
	keepalive uint32 // microseconds
	flags     byte
	groups    string // comma-separated names
	heard     string // comma-separated node names
	payload   []byte
}

func roundTripSeeds() map[string]roundTripSeed {
	return map[string]roundTripSeed{
		"golden":          {0x0a0b0c0d, "lb1", 7, 42, 200000, 1, "web,mail", "lb2,lb3", []byte{0xde, 0xad, 0xbe, 0xef}},
		"minimal":         {0, "a", 0, 0, 0, 0, "", "", nil},
		"too-long":        {1, strings.Repeat("x", 65), 1, 1, 1, 0, strings.Repeat("g", 40), strings.Repeat("h", 65), make([]byte, 1025)},
		"duplicate":       {1, "lb2", 1, 1, 1000, 2, "web,web", "", nil},
		"duplicate-heard": {1, "lb2", 1, 1, 1000, 2, "web", "lb1,lb1", nil},
	}
}

// FuzzUnmarshal feeds arbitrary bytes to the decoder and to Open: neither
// may panic, and a body that decodes must encode back to the same bytes
// (the layout has one encoding per packet).
func FuzzUnmarshal(f *testing.F) {
	for _, b := range unmarshalSeeds(f) {
		f.Add(b)
	}
	keys := goldenKeys()
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := Open(b, keys); err == nil && p == nil {
			t.Fatalf("Open(%x) = nil, nil", b)
		}
		var p Packet
		if err := p.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
				t.Fatalf("UnmarshalBinary(%x) error = %v, want ErrMalformed or ErrVersion", b, err)
			}
			return
		}
		again, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary(UnmarshalBinary(%x)) error: %v", b, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("MarshalBinary(UnmarshalBinary(%x)) = %x, want the input", b, again)
		}
		sealed, err := Seal(&p, keys)
		if err != nil {
			t.Fatalf("Seal(%+v) error: %v", p, err)
		}
		q, err := Open(sealed, keys)
		if err != nil || !reflect.DeepEqual(*q, p) {
			t.Fatalf("Open(Seal(%+v)) = %+v, %v", p, q, err)
		}
	})
}

// FuzzRoundTrip builds packets from fields: Seal either refuses them or
// Open returns exactly what was sealed.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range roundTripSeeds() {
		f.Add(s.cluster, s.sender, s.gen, s.seq, s.keepalive, s.flags, s.groups, s.heard, s.payload)
	}
	keys := goldenKeys()
	f.Fuzz(func(t *testing.T, cluster uint32, sender string, gen, seq uint64, keepalive uint32, flags byte, groups, heard string, payload []byte) {
		p := Packet{ClusterID: cluster, Sender: sender, Generation: gen, Seq: seq,
			Keepalive: time.Duration(keepalive) * time.Microsecond, Flags: Flags(flags)}
		if groups != "" {
			for i, name := range strings.Split(groups, ",") {
				p.Groups = append(p.Groups, Group{Name: name, Priority: uint8(i), State: uint8(len(name))})
			}
		}
		if heard != "" {
			for i, name := range strings.Split(heard, ",") {
				p.Heard = append(p.Heard, Heard{Node: name, Generation: gen + uint64(i),
					Age: time.Duration(keepalive>>uint(i%32)) * time.Microsecond, Flags: HeardFlags(flags >> 1)})
			}
		}
		if len(payload) > 0 {
			p.Payload = payload
		}
		b, err := Seal(&p, keys)
		if err != nil {
			return
		}
		got, err := Open(b, keys)
		if err != nil {
			t.Fatalf("Open(Seal(%+v)) error: %v", p, err)
		}
		if !reflect.DeepEqual(*got, p) {
			t.Fatalf("Open(Seal(p)) = %+v, want %+v", *got, p)
		}
	})
}

// TestSeedCorpus checks the committed seed files match the seeds above;
// -update rewrites them.
func TestSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for name, b := range unmarshalSeeds(t) {
		files[filepath.Join("FuzzUnmarshal", name)] = corpusFile(b)
	}
	for name, s := range roundTripSeeds() {
		files[filepath.Join("FuzzRoundTrip", name)] = corpusFile(s.cluster, s.sender, s.gen, s.seq, s.keepalive, s.flags, s.groups, s.heard, s.payload)
	}
	for name, want := range files {
		path := filepath.Join("testdata", "fuzz", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("reading seed %s (run with -update): %v", path, err)
			continue
		}
		if string(got) != want {
			t.Errorf("seed %s =\n%s\nwant\n%s(run with -update)", path, got, want)
		}
	}
}

// corpusFile encodes values in the "go test fuzz v1" format.
func corpusFile(vals ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return b.String()
}
