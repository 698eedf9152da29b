package authkeys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// heartbeatSample is the authkeys file Heartbeat 2/3 shipped in
// /usr/share/doc/heartbeat, as the Ultra Monkey guides copied it, with the
// sha1 key enabled the way those guides told people to.
const heartbeatSample = `#
#	Authentication file.  Must be mode 600
#
#
#	Must have exactly one auth directive at the front.
#	auth	send authentication using this method-id
#
#	Then, list the method and key that go with that method-id
#
#	Available methods: crc sha1, md5.  Crc doesn't need/want a key.
#
#	You normally only have one authentication method-id listed in this file
#
#	Put more than one to make a smooth transition when changing auth
#	methods and/or keys.
#
#
#	sha1 is believed to be the "best", md5 next best.
#
#	crc adds no security, except from packet corruption.
#		Use only on physically secure networks.
#
auth	1
1 sha1 HI!
#2 sha1 HI!
#3 md5 Hello!
`

func TestParse(t *testing.T) {
	tests := []struct {
		desc      string
		in        string
		signID    uint8
		ids       []uint8
		methods   map[uint8]string
		wantWarns []string // substrings, one per warning, in order
	}{
		{
			desc:      "heartbeat sample",
			in:        heartbeatSample,
			signID:    1,
			ids:       []uint8{1},
			methods:   map[uint8]string{1: "sha1"},
			wantWarns: []string{"x:24:3: key 1 uses sha1, a legacy method", "x:24:8: key 1: secret is only 3 bytes"},
		},
		{
			desc:    "sha256 one key",
			in:      "auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n",
			signID:  1,
			ids:     []uint8{1},
			methods: map[uint8]string{1: "sha256"},
		},
		{
			desc:      "rotation: auth after keys, md5 legacy, mixed case, tabs, CRLF",
			in:        "# rotating\r\n\r\n  1\tMD5\tthe old shared secret value\r\n2 sha256 0123456789abcdef0123456789abcdef\r\nauth 2\r\n",
			signID:    2,
			ids:       []uint8{1, 2},
			methods:   map[uint8]string{1: "md5", 2: "sha256"},
			wantWarns: []string{"x:3:5: key 1 uses md5"},
		},
		{
			desc:    "key ids 1 and 255",
			in:      "auth 255\n255 sha256 0123456789abcdef0123456789abcdef\n1 sha256 fedcba9876543210fedcba9876543210\n",
			signID:  255,
			ids:     []uint8{1, 255},
			methods: map[uint8]string{1: "sha256", 255: "sha256"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			kr, warns, err := Parse(strings.NewReader(tt.in), "x")
			if err != nil {
				t.Fatalf("Parse() error = %v, want nil", err)
			}
			if got := kr.SignKeyID(); got != tt.signID {
				t.Errorf("SignKeyID() = %d, want %d", got, tt.signID)
			}
			if got := kr.KeyIDs(); !slices.Equal(got, tt.ids) {
				t.Errorf("KeyIDs() = %v, want %v", got, tt.ids)
			}
			for id, m := range tt.methods {
				if got := kr.Method(id); got != m {
					t.Errorf("Method(%d) = %q, want %q", id, got, m)
				}
			}
			if len(warns) != len(tt.wantWarns) {
				t.Fatalf("Parse() warnings = %q, want %d matching %q", warns, len(tt.wantWarns), tt.wantWarns)
			}
			for i, w := range tt.wantWarns {
				if !strings.Contains(warns[i], w) {
					t.Errorf("warning[%d] = %q, want it to contain %q", i, warns[i], w)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		desc string
		in   string
		want []string // substrings of the joined error
		not  []string // must not appear (secrets)
	}{
		{"empty file", "", []string{`f: no "auth N" line`}, nil},
		{"only comments", "# auth 1\n\n", []string{`f: no "auth N" line`}, nil},
		{"unknown method", "auth 1\n\n1 foo bar\n", []string{`f:3:3: unknown method "foo" for key 1 (want sha256, sha1 or md5)`}, []string{"bar"}},
		{"crc refused", "auth 1\n1 crc\n", []string{"f:2:3: key 1: method crc refused: crc is a checksum, not a MAC"}, []string{"no key 1"}},
		{"missing secret", "auth 1\n1 sha256\n", []string{`f:2:9: key 1: sha256 needs a secret ("1 sha256 SECRET")`}, nil},
		{"auth names missing key", "auth 3\n1 sha256 0123456789abcdef0123456789abcdef\n", []string{"f:1:6: auth 3: no key 3 in the file"}, nil},
		{"auth without id", "auth\n1 sha256 s\n", []string{`f:1:1: want "auth N" with one key id, found 1 fields`}, nil},
		{"auth id zero", "auth 0\n", []string{`f:1:6: auth "0": want a key id 1..255`}, nil},
		{"auth id 256", "auth 256\n", []string{`f:1:6: auth "256": want a key id 1..255`}, nil},
		{"two auth lines", "auth 1\nauth 1\n1 sha256 s\n", []string{`f:2:1: second "auth" line (first on line 1)`}, nil},
		{"duplicate key", "auth 1\n1 sha256 aaaa\n1 md5 bbbb\n", []string{"f:3:1: key 1 defined again (first on line 2)"}, []string{"aaaa", "bbbb"}},
		{"bad key id", "auth 1\nx sha256 topsecret\n", []string{`f:2:1: key id "x": want a number 1..255`}, []string{"topsecret"}},
		{"negative key id", "auth 1\n-1 sha256 topsecret\n", []string{`key id "-1": want a number 1..255`}, nil},
		{"bare word is not echoed", "auth 1\nhunter2hunter2\n", []string{`f:2:1: want "auth N" or "N method secret", found a line with one field`}, []string{"hunter2"}},
		{"line too long", "auth 1\n1 sha256 " + strings.Repeat("a", maxLine) + "\n", []string{"f:2:1: line longer than 4096 bytes"}, []string{"no key 1"}},
		{
			desc: "every error reported",
			in:   "auth 9\n1 crc\n2 foo x\n3 sha256\n",
			want: []string{"f:1:6: auth 9: no key 9", "f:2:3: key 1: method crc refused", `f:3:3: unknown method "foo"`, "f:4:9: key 3: sha256 needs a secret"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			kr, _, err := Parse(strings.NewReader(tt.in), "f")
			if err == nil {
				t.Fatalf("Parse(%.80q) = %v, nil; want error containing %q", tt.in, kr, tt.want)
			}
			if kr != nil {
				t.Errorf("Parse(%.80q) keyring = %v, want nil on error", tt.in, kr)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%.80q) error = %q, want it to contain %q", tt.in, err, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("Parse(%.80q) error = %q, must not contain %q", tt.in, err, n)
				}
			}
		})
	}
}

// TestKnownAnswers checks each method against published HMAC vectors
// (RFC 4231 case 2, RFC 2202 case 2, RFC 2104 appendix): key "Jefe".
func TestKnownAnswers(t *testing.T) {
	msg := []byte("what do ya want for nothing?")
	tests := []struct {
		method, want string
	}{
		{"sha256", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"sha1", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"md5", "750c783e6ab0b503eaa86e310a5db738"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			kr, _, err := Parse(strings.NewReader("auth 7\n7 "+tt.method+" Jefe\n"), "t")
			if err != nil {
				t.Fatal(err)
			}
			id, mac := kr.Sign(msg)
			if id != 7 || hex.EncodeToString(mac) != tt.want {
				t.Errorf("Sign(%q) = %d, %x; want 7, %s", msg, id, mac, tt.want)
			}
			if got := kr.MACSize(7); got != len(mac) || got > MaxMACSize {
				t.Errorf("MACSize(7) = %d, want %d (<= %d)", got, len(mac), MaxMACSize)
			}
			if !kr.Verify(7, msg, mac) {
				t.Errorf("Verify(7, msg, Sign(msg)) = false, want true")
			}
		})
	}
}

func TestSecretIsRestOfLine(t *testing.T) {
	kr, _, err := Parse(strings.NewReader("auth 1\n1 sha256   correct horse # battery staple  \n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte("correct horse # battery staple"))
	m.Write([]byte("m"))
	if _, got := kr.Sign([]byte("m")); !hmac.Equal(got, m.Sum(nil)) {
		t.Errorf("Sign(m) = %x, want HMAC under the whole rest of the line %x", got, m.Sum(nil))
	}
}

// TestRotation is the no-downtime key change: a node that signs with the new
// key and a node still signing with the old one verify each other while both
// list both keys.
func TestRotation(t *testing.T) {
	const keys = "1 sha1 the old secret from heartbeat\n2 sha256 0123456789abcdef0123456789abcdef\n"
	oldNode, _, err := Parse(strings.NewReader("auth 1\n"+keys), "old")
	if err != nil {
		t.Fatal(err)
	}
	newNode, _, err := Parse(strings.NewReader("auth 2\n"+keys), "new")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("heartbeat")
	for _, c := range []struct {
		name     string
		from, to *Keyring
		wantID   uint8
	}{{"old->new", oldNode, newNode, 1}, {"new->old", newNode, oldNode, 2}} {
		id, mac := c.from.Sign(msg)
		if id != c.wantID {
			t.Errorf("%s: Sign() key id = %d, want %d", c.name, id, c.wantID)
		}
		if !c.to.Verify(id, msg, mac) {
			t.Errorf("%s: Verify(%d, msg, mac) = false, want true", c.name, id)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	kr, _, err := Parse(strings.NewReader("auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n2 md5 fedcba9876543210\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("heartbeat")
	id, mac := kr.Sign(msg)
	flipped := append([]byte(nil), mac...)
	flipped[0] ^= 1
	tests := []struct {
		desc string
		id   uint8
		msg  []byte
		mac  []byte
	}{
		{"flipped mac bit", id, msg, flipped},
		{"other message", id, []byte("heartbeaT"), mac},
		{"other key id", 2, msg, mac},
		{"unknown key id", 3, msg, mac},
		{"key id 0", 0, msg, mac},
		{"truncated mac", id, msg, mac[:16]},
		{"empty mac", id, msg, nil},
	}
	for _, tt := range tests {
		if kr.Verify(tt.id, tt.msg, tt.mac) {
			t.Errorf("%s: Verify(%d, %q, %x) = true, want false", tt.desc, tt.id, tt.msg, tt.mac)
		}
	}
}

func TestZeroKeyring(t *testing.T) {
	for _, kr := range []*Keyring{nil, {}} {
		if id, mac := kr.Sign([]byte("m")); id != 0 || mac != nil {
			t.Errorf("zero Keyring Sign() = %d, %x; want 0, nil", id, mac)
		}
		if kr.Verify(0, []byte("m"), nil) {
			t.Errorf("zero Keyring Verify() = true, want false")
		}
		if n := kr.MACSize(1); n != 0 {
			t.Errorf("zero Keyring MACSize(1) = %d, want 0", n)
		}
	}
}

// TestEqual: two keyrings are equal when they sign with the same key id
// and hold the same keys (id, method, secret): a reload swaps the file in
// only when it changed.
func TestEqual(t *testing.T) {
	parse := func(s string) *Keyring {
		t.Helper()
		k, _, err := Parse(strings.NewReader(s), "authkeys")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := "auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n"
	for _, tc := range []struct {
		other string
		equal bool
	}{
		{base, true},
		{"# a comment\n" + base, true},
		{"auth 1\n1 sha256 0123456789abcdef0123456789abcdeX\n", false},
		{"auth 1\n1 sha1 0123456789abcdef0123456789abcdef\n", false},
		{base + "2 sha256 fedcba9876543210fedcba9876543210\n", false},
		{"auth 2\n1 sha256 0123456789abcdef0123456789abcdef\n2 sha256 fedcba9876543210fedcba9876543210\n", false},
	} {
		if got := parse(base).Equal(parse(tc.other)); got != tc.equal {
			t.Errorf("Equal(%q) = %v, want %v", tc.other, got, tc.equal)
		}
	}
}
