package nft_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hapair/hapair/proxy/nft"
	"github.com/ti-mo/conntrack"
)

// fakeCT is a conntrack table whose SetLiberal records the entries it
// was asked to mark, and fails for those in fail.
type fakeCT struct {
	dump
	marked []conntrack.Flow
	fail   map[uint16]error // by client port
}

func (f *fakeCT) SetLiberal(fs []conntrack.Flow) (int, error) {
	var errs []error
	for _, fl := range fs {
		if err := f.fail[fl.TupleOrig.Proto.SourcePort]; err != nil {
			errs = append(errs, err)
			continue
		}
		f.marked = append(f.marked, fl)
	}
	return len(fs) - len(errs), errors.Join(errs...)
}

func clientPorts(fs []conntrack.Flow) []uint16 {
	var ps []uint16
	for _, f := range fs {
		ps = append(ps, f.TupleOrig.Proto.SourcePort)
	}
	return ps
}

func TestLiberal(t *testing.T) {
	const est = 3
	liberal := flow(6, "198.18.0.50:40007", "198.18.0.100:80", "198.18.0.22:8080", est)
	liberal.ProtoInfo.TCP.OriginalFlags, liberal.ProtoInfo.TCP.ReplyFlags = 0x0c00, 0x0800 // as a dump has them: flags, mask 0
	half := flow(6, "198.18.0.50:40008", "198.18.0.100:80", "198.18.0.22:8080", est)
	half.ProtoInfo.TCP.OriginalFlags, half.ProtoInfo.TCP.ReplyFlags = 0x0800, 0x0008 // a mask byte is not the flag
	ct := &fakeCT{dump: dump{
		flow(6, "198.18.0.50:40000", "198.18.0.100:80", "198.18.0.21:8080", est),
		flow(6, "198.18.0.50:40001", "198.18.0.100:80", "198.18.0.21:8080", 7),    // time wait: still the service's
		flow(6, "198.18.0.50:40003", "198.18.0.100:80", "198.18.0.30:8080", est),  // fallback
		flow(6, "198.18.0.50:40004", "198.18.0.100:443", "198.18.0.21:8080", est), // other port
		flow(17, "198.18.0.50:40005", "198.18.0.100:80", "198.18.0.21:8080", 0),   // other protocol
		flow(6, "198.18.0.50:40006", "198.18.0.101:80", "198.18.0.21:8080", est),  // other VIP
		flow(6, "198.18.0.50:40009", "198.18.0.100:80", "198.18.0.99:8080", est),  // not a real of it
		liberal, // already liberal both ways
		half,    // liberal one way only
	}}
	n, err := nft.Liberal(ct, []nft.Service{natService(), drService()})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{40000, 40001, 40003, 40008}
	if got := clientPorts(ct.marked); n != len(want) || !slices.Equal(got, want) {
		t.Errorf("Liberal marked %d: client ports %v, want %v", n, got, want)
	}
}

// A failing entry does not stop the others; every failure is returned.
func TestLiberalGoesOnPastFailures(t *testing.T) {
	ct := &fakeCT{dump: dump{
		flow(6, "198.18.0.50:40000", "198.18.0.100:80", "198.18.0.21:8080", 3),
		flow(6, "198.18.0.50:40001", "198.18.0.100:80", "198.18.0.21:8080", 3),
		flow(6, "198.18.0.50:40002", "198.18.0.100:80", "198.18.0.21:8080", 3),
	}, fail: map[uint16]error{40000: errors.New("first"), 40002: errors.New("third")}}
	n, err := nft.Liberal(ct, []nft.Service{natService()})
	if n != 1 || err == nil || !strings.Contains(err.Error(), "first") || !strings.Contains(err.Error(), "third") {
		t.Errorf("Liberal = %d, %v; want 1 marked and both failures", n, err)
	}
}

// Services with nothing to mark (dr, UDP nat) do not read conntrack.
func TestLiberalSkipsWithoutTCPNAT(t *testing.T) {
	udp := natService()
	udp.Protocol = "udp"
	n, err := nft.Liberal(failingDump{}, []nft.Service{drService(), udp})
	if n != 0 || err != nil {
		t.Errorf("Liberal = %d, %v; want 0, nil without reading conntrack", n, err)
	}
	if _, err := nft.Liberal(failingDump{}, []nft.Service{natService()}); err == nil || !strings.Contains(err.Error(), "reading conntrack") {
		t.Errorf("Liberal with a failing dump: %v, want the dump's error", err)
	}
}

type failingDump struct{}

func (failingDump) Dump(*conntrack.DumpOptions) ([]conntrack.Flow, error) {
	return nil, errors.New("dump failed")
}
func (failingDump) SetLiberal([]conntrack.Flow) (int, error) { return 0, errors.New("not reached") }
