package ipvssync

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPresent(t *testing.T) {
	release := func() (string, error) { return "6.1.0-test", nil }
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string // "" = present
	}{
		{"loaded or built in", fstest.MapFS{"proc/net/ip_vs": {}}, ""},
		{"loadable module", fstest.MapFS{"lib/modules/6.1.0-test/modules.dep": {Data: []byte(
			"kernel/net/netfilter/nf_nat.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz\n" +
				"kernel/net/netfilter/ipvs/ip_vs.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz\n")}}, ""},
		{"listed as built in", fstest.MapFS{"lib/modules/6.1.0-test/modules.builtin": {Data: []byte("kernel/net/netfilter/ipvs/ip_vs.ko\n")}}, ""},
		{"only an ip_vs scheduler", fstest.MapFS{"lib/modules/6.1.0-test/modules.dep": {Data: []byte("kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko\n")}},
			"no /proc/net/ip_vs, and no ip_vs module in /lib/modules/6.1.0-test"},
		{"nothing", fstest.MapFS{}, "no /proc/net/ip_vs, and no ip_vs module in /lib/modules/6.1.0-test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := present(tt.fs, release)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("present = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrNoIPVS)):
				t.Errorf("present = %v, want ErrNoIPVS with %q", err, tt.want)
			}
		})
	}
	if err := present(fstest.MapFS{}, func() (string, error) { return "", fs.ErrNotExist }); err == nil || errors.Is(err, ErrNoIPVS) {
		t.Errorf("present without a release = %v, want the read error", err)
	}
}
