package psync

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Type is a message's kind.
type Type uint8

// Message types (see the package doc for their bodies).
const (
	Hello Type = 1 + iota
	Delta
	Begin
	Part
	End
)

var typeNames = [...]string{Hello: "hello", Delta: "delta", Begin: "begin", Part: "part", End: "end"}

func (t Type) String() string {
	if t >= Hello && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

const (
	version = 1
	// MaxSize is the largest message: the heartbeat packet's payload bound.
	MaxSize = 1024
	// MaxName bounds a node name in an ack, as ha/wire bounds a sender.
	MaxName = 64
	// MaxAcks bounds a Hello's acks: one per other node of the largest
	// cluster ha allows (33 nodes).
	MaxAcks = 32

	flagSynced = 1 << 0
)

// ErrMalformed is wrapped by every UnmarshalBinary error.
var ErrMalformed = errors.New("malformed persistence sync message")

// Ack is what a Hello says about one sender.
type Ack struct {
	Name       string // the sender node
	Generation uint64 // its generation whose messages were received
	N          uint64 // the last of its messages received in order
	Synced     bool   // the receiver holds the sender's whole table
}

// Message is one persistence sync message.
type Message struct {
	Type  Type
	N     uint64 // per sender and generation, from 1
	Acks  []Ack  // Hello
	Epoch uint64 // Begin, Part, End: which full resync
	Parts uint64 // End: how many Parts the resync had
	Chunk []byte // Delta, Part: proxy/persist chunk, opaque here
}

// MarshalBinary encodes m; it fails when m does not fit MaxSize or a field
// is out of range.
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, 64+len(m.Chunk)))
}

// AppendBinary is MarshalBinary appending to b.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, version, byte(m.Type))
	b = binary.AppendUvarint(b, m.N)
	switch m.Type {
	case Hello:
		if len(m.Acks) > MaxAcks {
			return nil, fmt.Errorf("psync: encoding hello with %d acks: at most %d", len(m.Acks), MaxAcks)
		}
		b = append(b, byte(len(m.Acks)))
		for _, a := range m.Acks {
			if n := len(a.Name); n < 1 || n > MaxName {
				return nil, fmt.Errorf("psync: encoding ack for %q: name length %d, want 1..%d", a.Name, n, MaxName)
			}
			b = append(b, byte(len(a.Name)))
			b = append(b, a.Name...)
			b = binary.AppendUvarint(b, a.Generation)
			b = binary.AppendUvarint(b, a.N)
			var f byte
			if a.Synced {
				f = flagSynced
			}
			b = append(b, f)
		}
	case Delta:
		b = append(b, m.Chunk...)
	case Begin:
		b = binary.AppendUvarint(b, m.Epoch)
	case Part:
		b = binary.AppendUvarint(b, m.Epoch)
		b = append(b, m.Chunk...)
	case End:
		b = binary.AppendUvarint(b, m.Epoch)
		b = binary.AppendUvarint(b, m.Parts)
	default:
		return nil, fmt.Errorf("psync: encoding message of unknown type %d", m.Type)
	}
	if len(b)-start > MaxSize {
		return nil, fmt.Errorf("psync: encoding %v message of %d bytes: at most %d", m.Type, len(b)-start, MaxSize)
	}
	return b, nil
}

// UnmarshalBinary decodes b into m, replacing it only on success. Errors
// wrap ErrMalformed and give the offset. m.Chunk does not refer to b.
func (m *Message) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if len(b) > MaxSize {
		return d.fail("%d bytes, at most %d", len(b), MaxSize)
	}
	v, t := d.byte(), Type(d.byte())
	if d.err != nil {
		return d.err
	}
	if v != version {
		return d.fail("version %d, want %d", v, version)
	}
	q := Message{Type: t, N: d.uvarint()}
	switch t {
	case Hello:
		n := int(d.byte())
		if d.err == nil && n > MaxAcks {
			return d.fail("%d acks, at most %d", n, MaxAcks)
		}
		for i := 0; i < n && d.err == nil; i++ {
			var a Ack
			l := int(d.byte())
			if d.err == nil && (l < 1 || l > MaxName) {
				return d.fail("ack %d: name length %d, want 1..%d", i, l, MaxName)
			}
			a.Name = string(d.bytes(l))
			a.Generation = d.uvarint()
			a.N = d.uvarint()
			f := d.byte()
			if d.err == nil && f&^flagSynced != 0 {
				return d.fail("ack %d: unknown flags %#02x", i, f)
			}
			a.Synced = f&flagSynced != 0
			q.Acks = append(q.Acks, a)
		}
	case Delta:
		q.Chunk = d.rest()
	case Begin:
		q.Epoch = d.uvarint()
	case Part:
		q.Epoch = d.uvarint()
		q.Chunk = d.rest()
	case End:
		q.Epoch = d.uvarint()
		q.Parts = d.uvarint()
	default:
		return d.fail("unknown type %d", uint8(t))
	}
	if d.err != nil {
		return d.err
	}
	if d.off != len(b) {
		return d.fail("%d trailing bytes after a %v message", len(b)-d.off, t)
	}
	*m = q
	return nil
}

// decoder reads fields in order and keeps the first error, so a decode is
// a straight list of reads followed by one check.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) error {
	if d.err == nil {
		d.err = fmt.Errorf("psync: decoding at offset %d: %s: %w", d.off, fmt.Sprintf(format, args...), ErrMalformed)
	}
	return d.err
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.off < n {
		d.fail("truncated: %d bytes left, want %d", len(d.b)-d.off, n)
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("truncated or overlong uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) rest() []byte {
	if d.err != nil {
		return nil
	}
	r := append([]byte(nil), d.b[d.off:]...)
	d.off = len(d.b)
	return r
}
