package unicast

import (
	"net/netip"
	"testing"
)

func TestProblem(t *testing.T) {
	for _, tt := range []struct{ a, want string }{
		{"198.18.0.1", ""},
		{"2001:db8::1", ""},
		{"fe80::1", ""},
		{"169.254.0.1", ""},
		{"0.0.0.0", "0.0.0.0 is the unspecified address (any address), which no host is reached at"},
		{"::", ":: is the unspecified address (any address), which no host is reached at"},
		{"0.1.2.3", `0.1.2.3 is in 0.0.0.0/8, "this network" (RFC 1122 section 3.2.1.3), which no host is reached at`},
		{"224.0.0.5", "224.0.0.5 is a multicast group address, which no host holds as its own"},
		{"ff02::5", "ff02::5 is a multicast group address, which no host holds as its own"},
		{"127.0.0.2", "127.0.0.2 is a loopback address, which never leaves its host"},
		{"::1", "::1 is a loopback address, which never leaves its host"},
		{"255.255.255.255", "255.255.255.255 is the limited broadcast address"},
		{"::ffff:198.18.0.1", "::ffff:198.18.0.1 is an IPv4-mapped IPv6 address; write the IPv4 address 198.18.0.1"},
		{"fe80::1%eth0", "fe80::1%eth0 has a zone; write the address without it and the interface as interface"},
	} {
		if got := Problem(netip.MustParseAddr(tt.a)); got != tt.want {
			t.Errorf("Problem(%s) = %q, want %q", tt.a, got, tt.want)
		}
	}
}
