package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAdmin(t *testing.T) {
	tests := []struct {
		desc, in string
		want     Admin  // when err is ""
		err      string // substring of the error
	}{
		{desc: "off by default", in: ""},
		{desc: "loopback", in: "[admin]\nlisten = \"127.0.0.1:9694\"\n", want: Admin{Listen: netip.MustParseAddrPort("127.0.0.1:9694")}},
		{desc: "remote with opt-in", in: "[admin]\nlisten = \"198.18.0.1:9694\"\nallow_remote = true\n",
			want: Admin{Listen: netip.MustParseAddrPort("198.18.0.1:9694"), AllowRemote: true}},
		{desc: "remote without opt-in", in: "[admin]\nlisten = \"0.0.0.0:9694\"\n",
			err: `t.toml:12:10: admin.listen: "0.0.0.0:9694" is not a loopback address: the admin listener has no authentication; set admin.allow_remote = true`},
		{desc: "host name", in: "[admin]\nlisten = \"localhost:9694\"\n", err: `t.toml:12:10: admin.listen: "localhost:9694" is not an address`},
		{desc: "unknown key", in: "[admin]\nlisten = \"127.0.0.1:9694\"\nallow_remotes = true\n", err: `admin.allow_remotes: unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cfg, err := parse([]byte(minimal+"\n"+tt.in+svc), "t.toml")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse() error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if cfg.Admin != tt.want {
				t.Errorf("Admin = %+v, want %+v", cfg.Admin, tt.want)
			}
		})
	}
}
