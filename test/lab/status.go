package lab

import (
	"encoding/json"
	"fmt"
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
