// Package wire encodes, seals, opens and decodes hapair heartbeat packets.
//
// It owns the byte layout only: it does no I/O, keeps no per-peer state
// (replay lives in ha/replay, sockets in ha/link) and imports only the
// standard library. Like Heartbeat's ha.cf packets and VRRP (RFC 5798) it
// carries the sender's view of every resource group it knows, but in a fixed
// binary layout with explicit length limits rather than Heartbeat's text
// fields, so decoding is bounded and fuzzed.
//
// # Layout (version 2)
//
// All integers are big-endian. A sealed packet is a body followed by a
// footer:
//
//	off  size  field
//	0    4     magic "HApr" (0x48 0x41 0x70 0x72)
//	4    1     version, 2 (1 is also decoded; see Versions)
//	5    1     flags: bit 0 leaving, bit 1 maintenance; other bits are
//	           carried unchanged and ignored by this version
//	6    4     cluster id
//	10   8     generation (persisted, incremented at every start)
//	18   8     sequence number (per generation, increasing)
//	26   4     keepalive: the sender's heartbeat interval in microseconds
//	30   1     S: sender name length, 1..64
//	31   S     sender node name
//	.    1     G: group count, 0..64
//	           G times:
//	.    1       N: group name length, 1..32
//	.    N       group name (names are unique within a packet)
//	.    1       priority
//	.    1       state (opaque here; values belong to package ha)
//	.    1     H: heard count, 0..32 (absent in version 1)
//	           H times, one per other node the sender knows:
//	.    1       N: node name length, 1..64
//	.    N       node name (names are unique within a packet)
//	.    8       generation last heard from that node (0: never heard)
//	.    4       age: microseconds since the sender last heard it
//	             (clamped to 2^32-1, about 71 minutes)
//	.    1       flags: bit 0 alive (the sender counts it alive); other
//	             bits are carried unchanged and ignored
//	.    2     P: payload length, 0..1024
//	.    P     payload: empty, or on heartbeats the readiness payload
//	           (below); on persistence-sync packets a psync message
//	           footer:
//	.    M     MAC of the body, M in 16..64 (32 for HMAC-SHA256)
//	.    1     key id (the authkeys "auth N" key that made the MAC)
//	.    1     M
//
// The body must end exactly where the footer starts: trailing bytes are
// malformed, so every packet has exactly one encoding.
//
// # Readiness payload
//
// A heartbeat's payload, when not empty, says what the sender's balancer
// can serve for each group, so a returning preferred node can hold its
// auto_failback until its reals are as healthy as the owner's (DESIGN.md,
// "Failback can be gated on conditions"):
//
//	off  size  field
//	0    1     payload type, 1 (PayloadReadiness)
//	1    1     R: entry count, equal to the packet's group count G
//	           R times, in the order of the groups:
//	.    1       flags: bit 0 healthy count known, bit 1 not ready for
//	             failback; other bits are carried unchanged and ignored
//	.    2       healthy reals on the sender
//
// It travels in the payload rather than in a new layout version because
// every version already carries and authenticates the payload and ignores
// it: a node that predates it reads the packet as before, and a node that
// gets no readiness from a peer treats it as saying nothing (see package
// ha, "Failback readiness"). No version bump, so no fallback is needed in
// either direction. Persistence sync packets travel on their own sockets
// (ha/link on the heartbeat port + 1) and put a psync message there instead.
//
// # Why a heard list
//
// A heartbeat that only says "I am here" cannot show one-way loss: when
// lb1's packets stop reaching lb2 while lb2's still reach lb1, lb2 declares
// lb1 dead and takes its groups, and lb1, hearing lb2 fine, keeps them too.
// The heard list tells lb1 that lb2 has not heard it, so package ha can
// step aside (see ha's package doc, "One-way loss"). VRRP (RFC 9568) and
// Heartbeat have no such field; it follows the "what I hear of you" echo of
// BFD (RFC 5880, section 6.8.6: the remote state in every control packet).
//
// # Versions
//
// Version 2 added the heard list between the groups and the payload; the
// rest is as in version 1. This package decodes both (a version-1 packet
// sets Packet.Version1 and has no heard list) and encodes version 2 unless
// Packet.Version1 is set. A version-1 node drops version-2 packets with
// ErrVersion, so a mixed pair works only if the newer node speaks version 1
// to it: ha/agent does so while any peer was last heard speaking version 1,
// and a peer that sends no heard list is never judged one-way.
//
// # Why the footer is at the end
//
// The key id and MAC length sit in the last two bytes so Open can find and
// check the MAC without reading any body field first. They are not covered by
// the MAC (the signer picks the key while signing), but changing either only
// selects another key or another split of the bytes, and the MAC then fails.
// The footer layout is fixed for all versions, so a packet from a peer that
// speaks another version is still authenticated before it is rejected with
// ErrVersion.
//
// # Usage
//
//	b, err := wire.Seal(&p, keyring)   // encode, then sign with the active key
//	p, err := wire.Open(b, keyring)    // size, MAC (constant time), then decode
//
// Open returns errors wrapping ErrShort, ErrBadMAC, ErrVersion or
// ErrMalformed, so callers can count drops by reason with errors.Is.
package wire
