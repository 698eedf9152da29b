package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// Status decodes `hactl status -o json` run on h into v (each test
// package decodes the fields it checks).
func (h *Host) Status(bins Binaries, v any) error { return h.hactlJSON(bins, v, "status") }

// Service is the part of one service in `hactl services -o json` the
// tests read.
type Service struct {
	Name    string `json:"name"`
	Pool    string `json:"pool"`
	Serving bool   `json:"active"` // accepting traffic on this node
	Reals   []Real `json:"reals"`
}

// Real is one real server of a Service.
type Real struct {
	Address string `json:"address"`
	Pool    string `json:"pool"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason"`
	// Checks and CheckFailures count its completed health checks and the
	// failed ones, to tell a real never checked from one still rising.
	Checks        uint64 `json:"checks"`
	CheckFailures uint64 `json:"check_failures"`
	Weight        int    `json:"weight"`
	Scheduled     uint64 `json:"scheduled"`
	Active        int64  `json:"active_conns"`
}

// Services returns the services of `hactl services -o json` run on h, by
// name; an output of a format version other than 1 is an error.
func (h *Host) Services(bins Binaries) (map[string]Service, error) {
	var doc struct {
		Version  int       `json:"version"`
		Services []Service `json:"services"`
	}
	if err := h.hactlJSON(bins, &doc, "services"); err != nil {
		return nil, err
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("hactl services -o json on %s: version %d, want 1", h.Name, doc.Version)
	}
	m := map[string]Service{}
	for _, s := range doc.Services {
		m[s.Name] = s
	}
	return m, nil
}

// RealsUp is nil once service on h lists reals reals and every one has
// passed its health check (hactl services -o json), and else says why not.
func (h *Host) RealsUp(bins Binaries, service string, reals int) error {
	svcs, err := h.Services(bins)
	if err != nil {
		return err
	}
	s, ok := svcs[service]
	if !ok {
		return fmt.Errorf("%s: no service %s in hactl services", h.Name, service)
	}
	if len(s.Reals) != reals {
		return fmt.Errorf("%s: service %s lists %d reals, want %d", h.Name, service, len(s.Reals), reals)
	}
	for _, r := range s.Reals {
		if !r.Healthy {
			return fmt.Errorf("%s: service %s real %s is not up: %s (%d checks, %d failed)", h.Name, service, r.Address, r.Reason, r.Checks, r.CheckFailures)
		}
	}
	return nil
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
