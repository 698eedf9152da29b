package benchconf

import (
	"strings"
	"testing"
)

// TestHAProxy checks the parts the benches rely on: the thread count, each
// frontend's bind, and every real, in order, in each backend; the http
// frontend only when web is set.
func TestHAProxy(t *testing.T) {
	reals := []string{"198.18.0.21:8081", "198.18.0.22:8081"}
	for _, tc := range []struct {
		web      string
		sections []string // in order
		absent   string
	}{
		{"", []string{"global\n  nbthread 2\n", "bind 198.18.0.11:8001\n", "backend l4b\n", "server b1 198.18.0.21:8081\n  server b2 198.18.0.22:8081\n"}, "frontend web"},
		{"198.18.0.11:8080", []string{"backend l4b\n", "server b1 198.18.0.21:8081\n  server b2 198.18.0.22:8081\n",
			"frontend web\n  mode http\n  bind 198.18.0.11:8080\n", "backend webb\n", "server b1 198.18.0.21:8081\n  server b2 198.18.0.22:8081\n"}, "\n\n"},
	} {
		cfg := HAProxy(2, "198.18.0.11:8001", tc.web, reals...)
		rest := cfg
		for _, s := range tc.sections {
			_, after, ok := strings.Cut(rest, s)
			if !ok {
				t.Errorf("HAProxy(web %q) lacks %q after the sections before it:\n%s", tc.web, s, cfg)
				break
			}
			rest = after
		}
		if strings.Contains(cfg, tc.absent) {
			t.Errorf("HAProxy(web %q) has %q:\n%s", tc.web, tc.absent, cfg)
		}
	}
}
