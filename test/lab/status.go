package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// Status decodes `hactl status -o json` run on h into v (each test
// package decodes the fields it checks).
func (h *Host) Status(bins Binaries, v any) error {
	out, err := h.Hactl(bins, "status", "-o", "json")
	if err != nil {
		return fmt.Errorf("hactl status on %s: %v: %s", h.Name, err, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("hactl status -o json on %s: %v: %s", h.Name, err, out)
	}
	return nil
}

// HeldBy is nil when node alone holds ip, and else says who holds it.
func (l *Lab) HeldBy(ip netip.Addr, node string) error {
	h, err := l.SoleHolder(ip)
	if err != nil {
		return err
	}
	if h != node {
		return fmt.Errorf("%v held by %s, want %s", ip, h, node)
	}
	return nil
}

// MustHolders is Holders for a test: it fails t when the holders cannot
// be read.
func (l *Lab) MustHolders(t T, ip netip.Addr) []string {
	t.Helper()
	hs, err := l.Holders(ip)
	if err != nil {
		t.Fatalf("reading the holders of %v: %v", ip, err)
	}
	return hs
}
