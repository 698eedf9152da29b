package authkeys

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files to Parse: it must never panic, and any
// keyring it accepts must sign and verify its own messages with a MAC no
// longer than MaxMACSize.
func FuzzParse(f *testing.F) {
	f.Add([]byte(heartbeatSample))
	f.Add([]byte(goodFile))
	f.Add([]byte("auth 2\n1 md5 a b c\n2 sha256 x\n"))
	f.Add([]byte("auth 1\n1 crc\n"))
	f.Add([]byte("auth 255\n255 SHA1 \t s \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kr, warns, err := Parse(bytes.NewReader(data), "fuzz")
		if err != nil {
			if kr != nil {
				t.Fatalf("Parse() = %v, %v; want nil keyring with error", kr, err)
			}
			var errs Errors
			if !errors.As(err, &errs) || !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("Parse() error = %q, want an Errors, each line at fuzz:LINE:COL", err)
			}
			return
		}
		for _, w := range warns {
			if !regexp.MustCompile(`^fuzz:\d+:\d+: `).MatchString(w) {
				t.Fatalf("warning %q, want it at fuzz:LINE:COL", w)
			}
		}
		id, mac := kr.Sign(data)
		if id == 0 || len(mac) == 0 || len(mac) > MaxMACSize || len(mac) != kr.MACSize(id) {
			t.Fatalf("Sign() = %d, %d-byte MAC; want id 1..255 and MACSize(%d)=%d <= %d", id, len(mac), id, kr.MACSize(id), MaxMACSize)
		}
		if !kr.Verify(id, data, mac) {
			t.Fatalf("Verify(Sign(data)) = false, want true")
		}
	})
}
