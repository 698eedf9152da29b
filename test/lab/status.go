package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// Status decodes `hactl status -o json` run on h into v (each test
// package decodes the fields it checks).
func (h *Host) Status(bins Binaries, v any) error { return h.hactlJSON(bins, v, "status") }

// Services decodes `hactl services -o json` run on h into v, as Status.
func (h *Host) Services(bins Binaries, v any) error { return h.hactlJSON(bins, v, "services") }

// RealsUp is nil once service on h lists reals reals and every one has
// passed its health check (hactl services -o json), and else says why not.
func (h *Host) RealsUp(bins Binaries, service string, reals int) error {
	var doc struct {
		Services []struct {
			Name  string `json:"name"`
			Reals []struct {
				Address string `json:"address"`
				Healthy bool   `json:"healthy"`
				Reason  string `json:"reason"`
			} `json:"reals"`
		} `json:"services"`
	}
	if err := h.Services(bins, &doc); err != nil {
		return err
	}
	for _, s := range doc.Services {
		if s.Name != service {
			continue
		}
		if len(s.Reals) != reals {
			return fmt.Errorf("%s: service %s lists %d reals, want %d", h.Name, service, len(s.Reals), reals)
		}
		for _, r := range s.Reals {
			if !r.Healthy {
				return fmt.Errorf("%s: service %s real %s is not up: %s", h.Name, service, r.Address, r.Reason)
			}
		}
		return nil
	}
	return fmt.Errorf("%s: no service %s in hactl services", h.Name, service)
}

// hactlJSON runs `hactl VERB -o json` on h and decodes its output into v.
func (h *Host) hactlJSON(bins Binaries, v any, verb string) error {
	out, err := h.Hactl(bins, verb, "-o", "json")
	if err != nil {
		return fmt.Errorf("hactl %s on %s: %v: %s", verb, h.Name, err, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("hactl %s -o json on %s: %v: %s", verb, h.Name, err, out)
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
