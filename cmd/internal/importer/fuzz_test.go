package importer

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"slices"
	"testing"

	"github.com/hapair/hapair/internal/config"
	"github.com/hapair/hapair/node/serviceconf"
)

// Every fuzz target checks the package's promises on any input: no panic,
// the same output twice (the TOML byte for byte and the warnings, which
// `hactl import` prints too), and TOML that loads through internal/config.

func fuzzCheck(t *testing.T, imp func() *Result) {
	a := imp()
	b := imp()
	if !bytes.Equal(a.TOML, b.TOML) {
		t.Fatalf("two imports of the same input differ:\n%s\n---\n%s", a.TOML, b.TOML)
	}
	if !slices.Equal(a.Warnings, b.Warnings) {
		t.Fatalf("two imports of the same input warn differently:\n%v\n---\n%v", a.Warnings, b.Warnings)
	}
	if _, err := config.Parse(a.TOML, "had.toml", config.Options{Services: serviceconf.Rules{}, Resolver: &anyHost{toml: a.TOML}}); err != nil {
		t.Fatalf("import does not load: %v\n--- TOML:\n%s", err, a.TOML)
	}
}

// anyHost resolves every name, each to an address of its own that the
// TOML does not write literally: whether a name resolves, and to what,
// depends on the machine, not on the import (ipvsadm -r HOST next to
// -r 10.0.0.1 is one real or two depending on DNS).
type anyHost struct {
	toml  []byte
	addrs map[string]netip.Addr
	n     int
}

func (h *anyHost) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if h.addrs == nil {
		h.addrs = map[string]netip.Addr{}
	}
	a, ok := h.addrs[host]
	for !ok {
		h.n++
		a = netip.AddrFrom4([4]byte{10, byte(h.n >> 16), byte(h.n >> 8), byte(h.n)})
		ok = !bytes.Contains(h.toml, []byte(`"`+a.String()))
	}
	h.addrs[host] = a
	return []netip.Addr{a}, nil
}

func FuzzHeartbeat(f *testing.F) {
	f.Add([]byte(baseHACF), []byte(baseHR), []byte(baseAK), []byte(""))
	f.Add([]byte("node a b\nucast eth1 198.18.1.2\nkeepalive 2\ndeadtime 3\n"), []byte("a ldirectord 198.18.0.1/24/eth0:x\n"), []byte("auth 1\n1 crc\n"),
		[]byte("virtual=198.18.0.1:80\n\treal=198.18.1.1:80 masq\n"))
	f.Fuzz(func(t *testing.T, hacf, hr, ak, ld []byte) {
		files := map[string][]byte{"d/ha.cf": hacf, "d/haresources": hr, "d/authkeys": ak, "d/ldirectord.cf": ld}
		read := func(name string) ([]byte, error) {
			if b, ok := files[name]; ok {
				return b, nil
			}
			return nil, fs.ErrNotExist
		}
		stat := func(string) (fs.FileInfo, error) { return nil, errors.ErrUnsupported }
		fuzzCheck(t, func() *Result {
			res, err := heartbeat("d", "/d", read, stat)
			if err != nil {
				t.Fatal(err)
			}
			return res
		})
	})
}

func FuzzLdirectord(f *testing.F) {
	f.Add([]byte("checktimeout=3\nvirtual=198.18.0.20:80\n\treal=198.18.1.1->198.18.1.3:80 gate 2 \"/x\", \"y\"\n\tservice=http\n\treceive=\"ok\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCheck(t, func() *Result { return ldirectord("ldirectord.cf", data) })
	})
}

func FuzzIPVSAdm(f *testing.F) {
	f.Add([]byte("VIP=198.18.0.20\n/sbin/ipvsadm -A -t $VIP:80 -p\n-a -t 198.18.0.20:80 -r 198.18.1.1 -m -w 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCheck(t, func() *Result { return ipvsadm("rules", data) })
	})
}

func FuzzZeus(f *testing.F) {
	f.Add([]byte("MASTERS = 198.18.1.1 198.18.1.2:81\nSLAVES = 198.18.2.1\nSCRIPT = /bin/check a 'b c'\nTIMEPERIOD = 5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzCheck(t, func() *Result { return zeus("monitor.cfg", data, "") })
	})
}
