package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// The sync encoding carries entries inside the heartbeat's opaque payload
// (at most 1024 bytes), so it is compact and each chunk stands alone:
//
//	chunk  = version(1) nameLen(1) name(nameLen) entry*
//	entry  = flags(1) client(4|16) realIP(4|16) realPort(2, big endian) ttlMillis(uvarint)
//	flags  = bit 0: client is IPv6, bit 1: real is IPv6; other bits zero
//
// Expiry travels as time left (ttl) rather than as a wall-clock time, so the
// two nodes' clocks need not agree: the receiver adds the ttl to its own now.
// name is the service the entries belong to (persistence is per service), so
// each chunk can travel alone in any heartbeat. An IPv4 entry takes 14 bytes
// with a ttl under 35 minutes, so a 1024-byte payload holds 72 of them with a
// short service name. Zones are not carried.
const (
	encVersion = 1

	flagClient6 = 1 << 0
	flagReal6   = 1 << 1

	maxEntrySize = 1 + 16 + 16 + 2 + binary.MaxVarintLen64

	// MaxServiceName bounds the service name a chunk carries.
	MaxServiceName = 64

	// MaxTTL bounds a decoded ttl; anything longer is malformed (IPVS caps
	// persistence at 2^31 seconds, nobody configures more than a week).
	MaxTTL = 7 * 24 * time.Hour
)

// ErrMalformed is wrapped by every UnmarshalEntries error.
var ErrMalformed = errors.New("malformed persistence entries")

// MarshalEntries encodes service's entries es into chunks of at most maxChunk
// bytes, each decodable on its own, with each expiry as time left after now
// (an already expired entry is skipped). maxChunk must leave room for the
// name and one IPv6 entry; the heartbeat payload limit is 1024.
func MarshalEntries(service string, es []Entry, now time.Time, maxChunk int) ([][]byte, error) {
	if len(service) > MaxServiceName {
		return nil, fmt.Errorf("persist: service name %q longer than %d bytes", service, MaxServiceName)
	}
	head := 2 + len(service)
	if maxChunk < head+maxEntrySize {
		return nil, fmt.Errorf("persist: chunk size %d too small for one entry of service %q, want at least %d", maxChunk, service, head+maxEntrySize)
	}
	var chunks [][]byte
	var cur []byte
	var e [maxEntrySize]byte
	for _, in := range es {
		ttl := in.Expires.Sub(now)
		if ttl <= 0 || !in.Client.IsValid() || !in.Real.IsValid() {
			continue
		}
		b := appendEntry(e[:0], in.Client.Unmap(), in.Real, min(ttl, MaxTTL))
		if len(cur)+len(b) > maxChunk {
			chunks = append(chunks, cur)
			cur = nil
		}
		if cur == nil {
			cur = append(make([]byte, 0, maxChunk), encVersion, byte(len(service)))
			cur = append(cur, service...)
		}
		cur = append(cur, b...)
	}
	if cur != nil {
		chunks = append(chunks, cur)
	}
	return chunks, nil
}

func appendEntry(b []byte, client netip.Addr, real netip.AddrPort, ttl time.Duration) []byte {
	var flags byte
	rip := real.Addr().Unmap()
	if client.Is6() {
		flags |= flagClient6
	}
	if rip.Is6() {
		flags |= flagReal6
	}
	b = append(b, flags)
	b = appendAddr(b, client)
	b = appendAddr(b, rip)
	b = binary.BigEndian.AppendUint16(b, real.Port())
	return binary.AppendUvarint(b, uint64(ttl/time.Millisecond))
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}

// UnmarshalEntries decodes one chunk made by MarshalEntries into its service
// name and entries, turning each ttl into an expiry after now. Errors wrap
// ErrMalformed and give the offset.
func UnmarshalEntries(b []byte, now time.Time) (service string, es []Entry, err error) {
	if len(b) < 2 {
		return "", nil, fmt.Errorf("persist: chunk of %d bytes, want at least 2: %w", len(b), ErrMalformed)
	}
	if b[0] != encVersion {
		return "", nil, fmt.Errorf("persist: chunk version %d, want %d: %w", b[0], encVersion, ErrMalformed)
	}
	n := int(b[1])
	if n > MaxServiceName || len(b) < 2+n {
		return "", nil, fmt.Errorf("persist: service name of %d bytes in a %d-byte chunk: %w", n, len(b), ErrMalformed)
	}
	service = string(b[2 : 2+n])
	for off := 2 + n; off < len(b); {
		e, k, err := decodeEntry(b[off:], now)
		if err != nil {
			return "", nil, fmt.Errorf("persist: service %q: entry at offset %d: %w: %w", service, off, err, ErrMalformed)
		}
		es = append(es, e)
		off += k
	}
	return service, es, nil
}

func decodeEntry(b []byte, now time.Time) (Entry, int, error) {
	flags := b[0]
	if flags&^(flagClient6|flagReal6) != 0 {
		return Entry{}, 0, fmt.Errorf("unknown flags %#02x", flags)
	}
	off := 1
	client, n, ok := readAddr(b[off:], flags&flagClient6 != 0)
	if !ok {
		return Entry{}, 0, errors.New("truncated or IPv4-mapped client address")
	}
	off += n
	rip, n, ok := readAddr(b[off:], flags&flagReal6 != 0)
	if !ok {
		return Entry{}, 0, errors.New("truncated or IPv4-mapped real address")
	}
	off += n
	if len(b) < off+2 {
		return Entry{}, 0, errors.New("truncated real port")
	}
	port := binary.BigEndian.Uint16(b[off:])
	off += 2
	ms, n := binary.Uvarint(b[off:])
	if n <= 0 {
		return Entry{}, 0, errors.New("truncated or overlong ttl")
	}
	off += n
	ttl := time.Duration(ms) * time.Millisecond
	if ms > uint64(MaxTTL/time.Millisecond) {
		return Entry{}, 0, fmt.Errorf("ttl %dms longer than %v", ms, MaxTTL)
	}
	return Entry{Client: client, Real: netip.AddrPortFrom(rip, port), Expires: now.Add(ttl)}, off, nil
}

func readAddr(b []byte, v6 bool) (netip.Addr, int, bool) {
	if v6 {
		if len(b) < 16 {
			return netip.Addr{}, 0, false
		}
		a := netip.AddrFrom16([16]byte(b[:16]))
		if a.Is4In6() { // MarshalEntries sends these as IPv4: one encoding per entry
			return netip.Addr{}, 0, false
		}
		return a, 16, true
	}
	if len(b) < 4 {
		return netip.Addr{}, 0, false
	}
	return netip.AddrFrom4([4]byte(b[:4])), 4, true
}
