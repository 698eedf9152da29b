package wire

import (
	"encoding/binary"
	"fmt"
)

// PayloadReadiness is the type byte of a heartbeat's readiness payload
// (see the package doc, "Readiness payload").
const PayloadReadiness = 1

// ReadyFlags are the flags of one group's readiness entry.
type ReadyFlags uint8

const (
	// ReadyHealthyKnown says Healthy is the sender's count: the group has
	// a balancer there and its checks have reported.
	ReadyHealthyKnown ReadyFlags = 1 << 0
	// ReadyNotReady says the sender would take the group back under
	// auto_failback but waits: its reals are not healthy enough or its
	// persistence table has not caught up.
	ReadyNotReady ReadyFlags = 1 << 1
)

// readyEntrySize is one entry: flags, healthy count.
const readyEntrySize = 1 + 2

// Readiness is what a heartbeat's sender says of its balancer for one
// group, in the order of Packet.Groups.
type Readiness struct {
	Flags   ReadyFlags // other bits are carried unchanged and ignored
	Healthy uint16     // reals passing their checks on the sender (with ReadyHealthyKnown)
}

// AppendReadiness appends the readiness payload for rs, one entry per group
// of the packet in the same order, to b. It fails when rs has more than
// MaxGroups entries.
func AppendReadiness(b []byte, rs []Readiness) ([]byte, error) {
	if len(rs) > MaxGroups {
		return b, fmt.Errorf("wire: encoding readiness of %d groups: at most %d", len(rs), MaxGroups)
	}
	b = append(b, PayloadReadiness, byte(len(rs)))
	for _, r := range rs {
		b = append(b, byte(r.Flags))
		b = binary.BigEndian.AppendUint16(b, r.Healthy)
	}
	return b, nil
}

// ParseReadiness decodes a heartbeat payload that carries readiness for a
// packet of groups groups. An empty payload says nothing: (nil, nil).
// Errors wrap ErrMalformed: another payload type, a count other than
// groups or above MaxGroups, or a length that does not match.
func ParseReadiness(payload []byte, groups int) ([]Readiness, error) {
	if len(payload) == 0 {
		return nil, nil
	}
	if len(payload) < 2 {
		return nil, fmt.Errorf("wire: decoding %d-byte readiness payload: header needs 2: %w", len(payload), ErrMalformed)
	}
	if payload[0] != PayloadReadiness {
		return nil, fmt.Errorf("wire: decoding payload type %d: want %d (readiness): %w", payload[0], PayloadReadiness, ErrMalformed)
	}
	n := int(payload[1])
	if n > MaxGroups {
		return nil, fmt.Errorf("wire: decoding readiness of %d groups: at most %d: %w", n, MaxGroups, ErrMalformed)
	}
	if n != groups {
		return nil, fmt.Errorf("wire: decoding readiness of %d groups: the packet has %d: %w", n, groups, ErrMalformed)
	}
	if len(payload) != 2+n*readyEntrySize {
		return nil, fmt.Errorf("wire: decoding readiness of %d groups: %d bytes, want %d: %w", n, len(payload), 2+n*readyEntrySize, ErrMalformed)
	}
	rs := make([]Readiness, n)
	for i := range rs {
		e := payload[2+i*readyEntrySize:]
		rs[i] = Readiness{Flags: ReadyFlags(e[0]), Healthy: binary.BigEndian.Uint16(e[1:])}
	}
	return rs, nil
}
