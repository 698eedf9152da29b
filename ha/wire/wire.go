package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Magic opens every hapair packet ("HApr").
var Magic = [4]byte{'H', 'A', 'p', 'r'}

// Version is the layout this package encodes by default. It also decodes
// Version1, and encodes it for a Packet with Version1 set (see the package
// doc, "Versions").
const Version = 2

// Version1 is the previous layout: no heard list.
const Version1 = 1

// Limits of the layout. Decoding checks every length against them and
// against the bytes that remain, so a packet never makes the decoder
// allocate more than MaxPacketSize bytes.
const (
	MaxSender    = 64   // bytes in a node name
	MaxGroupName = 32   // bytes in a group name
	MaxGroups    = 64   // groups per packet
	MaxPayload   = 1024 // bytes of opaque payload
	MaxHeard     = 32   // heard entries per packet (version 2)
	MinMACSize   = 16   // shorter MACs are refused (HMAC-MD5 is 16)
	MaxMACSize   = 64   // room for HMAC-SHA512; authkeys uses 32

	// MaxKeepalive is the largest keepalive the 32-bit microsecond field holds.
	MaxKeepalive = time.Duration(1<<32-1) * time.Microsecond
	// MaxAge is the largest heard age the 32-bit microsecond field holds
	// (about 71 minutes); senders clamp longer silences to it.
	MaxAge = MaxKeepalive

	headerSize = 31 // through the sender length byte
	footerSize = 2  // key id, MAC length
	// MinPacketSize is the smallest sealed packet: 1-byte sender, no
	// groups, no payload, shortest MAC.
	MinPacketSize = headerSize + 1 + 1 + 2 + MinMACSize + footerSize
	// groupEntrySize is one group entry without its name: name length,
	// priority, state.
	groupEntrySize = 1 + 1 + 1
	// heardEntrySize is one heard entry without its name: name length,
	// generation, age, flags.
	heardEntrySize = 1 + 8 + 4 + 1
	// MaxBodySize is the largest body: every field at its maximum.
	MaxBodySize = headerSize + MaxSender + 1 + MaxGroups*(1+MaxGroupName+2) +
		1 + MaxHeard*(heardEntrySize+MaxSender) + 2 + MaxPayload
	// MaxPacketSize is the largest sealed packet.
	MaxPacketSize = MaxBodySize + MaxMACSize + footerSize
)

// Flags are per-packet flags.
type Flags uint8

const (
	// FlagLeaving says the sender is stopping on purpose (SIGTERM, hactl
	// standby): peers take over at once instead of waiting for deadtime,
	// like VRRP's priority 0.
	FlagLeaving Flags = 1 << 0
	// FlagMaintenance says the sender has frozen its groups.
	FlagMaintenance Flags = 1 << 1
)

// HeardFlags are per-entry flags of the heard list.
type HeardFlags uint8

// HeardAlive says the sender counts the node alive (heard within its
// deadtime, not leaving). Other bits are carried unchanged and ignored.
const HeardAlive HeardFlags = 1 << 0

// Heard is what the sender hears of one other node (version 2): it lets a
// node that is heard by nobody while it hears its peers (one-way loss) find
// out, which a heartbeat that only says "I am here" cannot.
type Heard struct {
	Node       string        // 1..MaxSender bytes, unique within a packet
	Generation uint64        // the generation last heard from Node; 0 = never heard
	Age        time.Duration // since the sender last heard Node; whole microseconds, 0..MaxAge
	Flags      HeardFlags
}

// Group is the sender's view of one resource group.
type Group struct {
	Name     string // 1..MaxGroupName bytes, unique within a packet
	Priority uint8
	State    uint8 // opaque to wire; values are defined by package ha
}

// Packet is one heartbeat.
type Packet struct {
	ClusterID  uint32
	Sender     string // node name, 1..MaxSender bytes
	Generation uint64
	Seq        uint64
	Keepalive  time.Duration // sender's heartbeat interval; whole microseconds, 0..MaxKeepalive
	Flags      Flags
	Groups     []Group // at most MaxGroups
	Heard      []Heard // at most MaxHeard; version 2 only
	Payload    []byte  // at most MaxPayload bytes: readiness (ParseReadiness) or a psync message

	// Version1 encodes the packet in the version-1 layout (no heard list),
	// for a peer that speaks only version 1; UnmarshalBinary sets it for a
	// version-1 packet. The zero value is the current Version.
	Version1 bool
}

// Sentinel errors; the errors returned by this package wrap one of them.
var (
	// ErrShort: fewer bytes than the smallest packet, or than the footer says.
	ErrShort = errors.New("packet too short")
	// ErrBadMAC: the MAC does not verify under the key id in the footer.
	ErrBadMAC = errors.New("bad MAC")
	// ErrVersion: an authenticated packet with a version other than
	// Version and Version1.
	ErrVersion = errors.New("unsupported version")
	// ErrMalformed: an authenticated packet whose body does not decode.
	ErrMalformed = errors.New("malformed packet")
)

// bodySize returns the encoded body length of p, or an error naming the
// first field that does not fit the layout.
func (p *Packet) bodySize() (int, error) {
	if n := len(p.Sender); n < 1 || n > MaxSender {
		return 0, fmt.Errorf("wire: encoding sender %q: length %d, want 1..%d", p.Sender, n, MaxSender)
	}
	if p.Keepalive < 0 || p.Keepalive > MaxKeepalive || p.Keepalive%time.Microsecond != 0 {
		return 0, fmt.Errorf("wire: encoding keepalive %v: want whole microseconds in 0..%v", p.Keepalive, MaxKeepalive)
	}
	if len(p.Groups) > MaxGroups {
		return 0, fmt.Errorf("wire: encoding %d groups: at most %d", len(p.Groups), MaxGroups)
	}
	if len(p.Payload) > MaxPayload {
		return 0, fmt.Errorf("wire: encoding payload of %d bytes: at most %d", len(p.Payload), MaxPayload)
	}
	size := headerSize + len(p.Sender) + 1 + 2 + len(p.Payload)
	for i, g := range p.Groups {
		if n := len(g.Name); n < 1 || n > MaxGroupName {
			return 0, fmt.Errorf("wire: encoding group %q: name length %d, want 1..%d", g.Name, n, MaxGroupName)
		}
		for _, h := range p.Groups[:i] {
			if h.Name == g.Name {
				return 0, fmt.Errorf("wire: encoding group %q: duplicate name", g.Name)
			}
		}
		size += 1 + len(g.Name) + 2
	}
	if p.Version1 {
		if len(p.Heard) > 0 {
			return 0, fmt.Errorf("wire: encoding %d heard entries: version 1 has no heard list", len(p.Heard))
		}
		return size, nil
	}
	if len(p.Heard) > MaxHeard {
		return 0, fmt.Errorf("wire: encoding %d heard entries: at most %d", len(p.Heard), MaxHeard)
	}
	size++
	for i, h := range p.Heard {
		if n := len(h.Node); n < 1 || n > MaxSender {
			return 0, fmt.Errorf("wire: encoding heard node %q: name length %d, want 1..%d", h.Node, n, MaxSender)
		}
		if h.Age < 0 || h.Age > MaxAge || h.Age%time.Microsecond != 0 {
			return 0, fmt.Errorf("wire: encoding heard node %q age %v: want whole microseconds in 0..%v", h.Node, h.Age, MaxAge)
		}
		for _, o := range p.Heard[:i] {
			if o.Node == h.Node {
				return 0, fmt.Errorf("wire: encoding heard node %q: duplicate name", h.Node)
			}
		}
		size += heardEntrySize + len(h.Node)
	}
	return size, nil
}

// AppendBinary appends the encoded body of p to b (encoding.BinaryAppender).
// It does not seal; see Seal.
func (p *Packet) AppendBinary(b []byte) ([]byte, error) {
	if _, err := p.bodySize(); err != nil {
		return b, err
	}
	v := byte(Version)
	if p.Version1 {
		v = Version1
	}
	b = append(b, Magic[:]...)
	b = append(b, v, byte(p.Flags))
	b = binary.BigEndian.AppendUint32(b, p.ClusterID)
	b = binary.BigEndian.AppendUint64(b, p.Generation)
	b = binary.BigEndian.AppendUint64(b, p.Seq)
	b = binary.BigEndian.AppendUint32(b, uint32(p.Keepalive/time.Microsecond))
	b = append(b, byte(len(p.Sender)))
	b = append(b, p.Sender...)
	b = append(b, byte(len(p.Groups)))
	for _, g := range p.Groups {
		b = append(b, byte(len(g.Name)))
		b = append(b, g.Name...)
		b = append(b, g.Priority, g.State)
	}
	if !p.Version1 {
		b = append(b, byte(len(p.Heard)))
		for _, h := range p.Heard {
			b = append(b, byte(len(h.Node)))
			b = append(b, h.Node...)
			b = binary.BigEndian.AppendUint64(b, h.Generation)
			b = binary.BigEndian.AppendUint32(b, uint32(h.Age/time.Microsecond))
			b = append(b, byte(h.Flags))
		}
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Payload)))
	b = append(b, p.Payload...)
	return b, nil
}

// MarshalBinary returns the encoded body of p (not sealed).
func (p *Packet) MarshalBinary() ([]byte, error) {
	n, err := p.bodySize()
	if err != nil {
		return nil, err
	}
	return p.AppendBinary(make([]byte, 0, n))
}

// UnmarshalBinary decodes a body (no footer) into p, replacing every field.
// It checks every length against the remaining bytes and the layout's
// maxima before using it, and never keeps a reference to b. Errors wrap
// ErrVersion or ErrMalformed.
func (p *Packet) UnmarshalBinary(b []byte) error {
	if len(b) < headerSize {
		return fmt.Errorf("wire: decoding %d-byte body: header needs %d: %w", len(b), headerSize, ErrMalformed)
	}
	if [4]byte(b[0:4]) != Magic {
		return fmt.Errorf("wire: decoding magic %q: want %q: %w", b[0:4], Magic[:], ErrMalformed)
	}
	if b[4] != Version && b[4] != Version1 {
		return fmt.Errorf("wire: decoding version %d: want %d or %d: %w", b[4], Version1, Version, ErrVersion)
	}
	var q Packet
	q.Version1 = b[4] == Version1
	q.Flags = Flags(b[5])
	q.ClusterID = binary.BigEndian.Uint32(b[6:])
	q.Generation = binary.BigEndian.Uint64(b[10:])
	q.Seq = binary.BigEndian.Uint64(b[18:])
	q.Keepalive = time.Duration(binary.BigEndian.Uint32(b[26:])) * time.Microsecond

	// First pass: walk the variable part checking every length, so the
	// second pass can slice without checks and allocate exactly once.
	off := headerSize
	sn := int(b[off-1])
	if sn < 1 || sn > MaxSender {
		return fmt.Errorf("wire: decoding sender length %d: want 1..%d: %w", sn, MaxSender, ErrMalformed)
	}
	if off+sn+1 > len(b) {
		return fmt.Errorf("wire: decoding sender of %d bytes: %d remain: %w", sn, len(b)-off, ErrMalformed)
	}
	off += sn
	gn := int(b[off])
	off++
	if gn > MaxGroups {
		return fmt.Errorf("wire: decoding group count %d: at most %d: %w", gn, MaxGroups, ErrMalformed)
	}
	namesStart := off
	for i := range gn {
		var err error
		if off, err = entryEnd(b, off, "group", i, MaxGroupName, groupEntrySize); err != nil {
			return err
		}
	}
	namesEnd := off
	heardStart, hn := off, 0
	if !q.Version1 {
		if off >= len(b) {
			return fmt.Errorf("wire: decoding heard count: body ends: %w", ErrMalformed)
		}
		hn = int(b[off])
		off++
		if hn > MaxHeard {
			return fmt.Errorf("wire: decoding heard count %d: at most %d: %w", hn, MaxHeard, ErrMalformed)
		}
		for i := range hn {
			var err error
			if off, err = entryEnd(b, off, "heard entry", i, MaxSender, heardEntrySize); err != nil {
				return err
			}
		}
	}
	if off+2 > len(b) {
		return fmt.Errorf("wire: decoding payload length: %d bytes remain: %w", len(b)-off, ErrMalformed)
	}
	pn := int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	if pn > MaxPayload {
		return fmt.Errorf("wire: decoding payload length %d: at most %d: %w", pn, MaxPayload, ErrMalformed)
	}
	if off+pn != len(b) {
		return fmt.Errorf("wire: decoding payload of %d bytes: %d remain: %w", pn, len(b)-off, ErrMalformed)
	}

	// Second pass. One string holds the sender and every group name (and
	// the length and priority bytes between them), so decoding costs one
	// string allocation however many groups there are.
	s := string(b[headerSize:namesEnd])
	q.Sender = s[:sn]
	if gn > 0 {
		q.Groups = make([]Group, gn)
		off = namesStart
		for i := range q.Groups {
			n := int(b[off])
			at := off + 1 - headerSize
			g := Group{Name: s[at : at+n], Priority: b[off+1+n], State: b[off+1+n+1]}
			for _, h := range q.Groups[:i] {
				if h.Name == g.Name {
					return fmt.Errorf("wire: decoding group %q: duplicate name: %w", g.Name, ErrMalformed)
				}
			}
			q.Groups[i] = g
			off += groupEntrySize + n
		}
	}
	if hn > 0 {
		q.Heard = make([]Heard, hn)
		off = heardStart + 1
		for i := range q.Heard {
			n := int(b[off])
			h := Heard{Node: string(b[off+1 : off+1+n])}
			off += 1 + n
			h.Generation = binary.BigEndian.Uint64(b[off:])
			h.Age = time.Duration(binary.BigEndian.Uint32(b[off+8:])) * time.Microsecond
			h.Flags = HeardFlags(b[off+12])
			off += 13
			for _, o := range q.Heard[:i] {
				if o.Node == h.Node {
					return fmt.Errorf("wire: decoding heard node %q: duplicate name: %w", h.Node, ErrMalformed)
				}
			}
			q.Heard[i] = h
		}
	}
	if pn > 0 {
		q.Payload = append([]byte(nil), b[len(b)-pn:]...)
	}
	*p = q
	return nil
}

// entryEnd checks entry i of a list of what at b[off:]: a name length in
// 1..maxName, then the name and the entry's other bytes, fixed in all
// (the length byte included) besides the name. It returns the offset
// after the entry.
func entryEnd(b []byte, off int, what string, i, maxName, fixed int) (int, error) {
	if off >= len(b) {
		return 0, fmt.Errorf("wire: decoding %s %d: body ends: %w", what, i, ErrMalformed)
	}
	n := int(b[off])
	if n < 1 || n > maxName {
		return 0, fmt.Errorf("wire: decoding %s %d name length %d: want 1..%d: %w", what, i, n, maxName, ErrMalformed)
	}
	if off+fixed+n > len(b) {
		return 0, fmt.Errorf("wire: decoding %s %d of %d bytes: %d remain: %w", what, i, fixed+n, len(b)-off, ErrMalformed)
	}
	return off + fixed + n, nil
}
