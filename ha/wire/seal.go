package wire

import "fmt"

// Signer makes the MAC of a message with the active key. *authkeys.Keyring
// satisfies it.
type Signer interface {
	// Sign returns the key id used and the MAC of msg under that key.
	Sign(msg []byte) (keyID uint8, mac []byte)
}

// Verifier checks a MAC. *authkeys.Keyring satisfies it.
type Verifier interface {
	// Verify reports whether mac is the MAC of msg under key keyID,
	// comparing in constant time.
	Verify(keyID uint8, msg, mac []byte) bool
}

// Seal encodes p and appends the footer: the MAC of the body made by s, the
// key id and the MAC length.
func Seal(p *Packet, s Signer) ([]byte, error) {
	return AppendSeal(nil, p, s)
}

// AppendSeal is Seal appending to dst, so a sender can reuse one buffer.
func AppendSeal(dst []byte, p *Packet, s Signer) ([]byte, error) {
	n, err := p.bodySize()
	if err != nil {
		return dst, err
	}
	if cap(dst)-len(dst) < n+MaxMACSize+footerSize {
		nb := make([]byte, len(dst), len(dst)+n+MaxMACSize+footerSize)
		copy(nb, dst)
		dst = nb
	}
	start := len(dst)
	b, err := p.AppendBinary(dst)
	if err != nil {
		return dst, err
	}
	id, mac := s.Sign(b[start:])
	if len(mac) < MinMACSize || len(mac) > MaxMACSize {
		return dst, fmt.Errorf("wire: sealing with key %d: MAC of %d bytes, want %d..%d", id, len(mac), MinMACSize, MaxMACSize)
	}
	b = append(b, mac...)
	return append(b, id, byte(len(mac))), nil
}

// Open checks b's size and MAC and only then decodes the body. The MAC is
// checked by v (in constant time) over every byte before it, before any body
// field is read. Errors wrap ErrShort, ErrBadMAC, ErrVersion or ErrMalformed.
// The returned packet does not refer to b.
func Open(b []byte, v Verifier) (*Packet, error) {
	p := new(Packet)
	if err := OpenInto(p, b, v); err != nil {
		return nil, err
	}
	return p, nil
}

// OpenInto is Open decoding into p, which it replaces only on success.
func OpenInto(p *Packet, b []byte, v Verifier) error {
	body, err := verify(b, v)
	if err != nil {
		return err
	}
	return p.UnmarshalBinary(body)
}

// verify returns the authenticated body of the sealed packet b.
func verify(b []byte, v Verifier) ([]byte, error) {
	body, err := Authenticate(b, v)
	if err == nil {
		return body, nil
	}
	switch {
	case len(b) < MinPacketSize:
		return nil, fmt.Errorf("wire: opening %d-byte packet: at least %d: %w", len(b), MinPacketSize, ErrShort)
	case len(b) > MaxPacketSize:
		return nil, fmt.Errorf("wire: opening %d-byte packet: at most %d: %w", len(b), MaxPacketSize, ErrMalformed)
	}
	m, keyID := int(b[len(b)-1]), b[len(b)-2]
	switch {
	case m < MinMACSize || m > MaxMACSize:
		return nil, fmt.Errorf("wire: opening packet with MAC length %d: want %d..%d: %w", m, MinMACSize, MaxMACSize, ErrMalformed)
	case err == ErrShort:
		return nil, fmt.Errorf("wire: opening %d-byte packet with %d-byte MAC: body of %d bytes: %w", len(b), m, len(b)-footerSize-m, ErrShort)
	}
	return nil, fmt.Errorf("wire: opening packet with key %d: %w", keyID, ErrBadMAC)
}

// Authenticate is Open's first half for a receiver under a flood: it checks
// b's size and MAC and returns the authenticated body (a part of b, to give
// to Packet.UnmarshalBinary) or a bare ErrShort, ErrMalformed or ErrBadMAC,
// without formatting anything, so a forged packet costs one MAC and no
// allocation of this package's. Open says the same with details.
func Authenticate(b []byte, v Verifier) ([]byte, error) {
	if len(b) < MinPacketSize {
		return nil, ErrShort
	}
	if len(b) > MaxPacketSize {
		return nil, ErrMalformed
	}
	m := int(b[len(b)-1])
	keyID := b[len(b)-2]
	if m < MinMACSize || m > MaxMACSize {
		return nil, ErrMalformed
	}
	end := len(b) - footerSize - m
	if end < MinPacketSize-MinMACSize-footerSize {
		return nil, ErrShort
	}
	if !v.Verify(keyID, b[:end], b[end:end+m]) {
		return nil, ErrBadMAC
	}
	return b[:end], nil
}

// ClaimedSender returns the sender name a sealed packet b carries, without
// authenticating it: a part of b, or nil when b is not long enough to hold
// a hapair header and the name its length byte announces. Anyone can write
// any name there, so it is for logs and diagnostics only (naming the node
// whose packets fail authentication, as Heartbeat's "Bad authentication"
// lines do), never for a decision. It does not allocate.
func ClaimedSender(b []byte) []byte {
	if len(b) < headerSize || [4]byte(b[0:4]) != Magic {
		return nil
	}
	n := int(b[headerSize-1])
	if n < 1 || n > MaxSender || headerSize+n > len(b) {
		return nil
	}
	return b[headerSize : headerSize+n]
}
