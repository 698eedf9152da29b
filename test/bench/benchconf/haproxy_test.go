package benchconf

import (
	"strings"
	"testing"
)

func TestHAProxy(t *testing.T) {
	got := HAProxy(2, "198.18.0.11:8001", "", "198.18.0.21:8081", "198.18.0.22:8081")
	want := `global
  nbthread 2
  maxconn 4000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  maxconn 4000
frontend l4
  mode tcp
  bind 198.18.0.11:8001
  default_backend l4b
backend l4b
  mode tcp
  balance roundrobin
  server b1 198.18.0.21:8081
  server b2 198.18.0.22:8081
`
	if got != want {
		t.Errorf("HAProxy without web =\n%s\nwant\n%s", got, want)
	}
	web := HAProxy(1, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")
	for _, line := range []string{"frontend web\n  mode http\n  bind 127.0.0.1:2\n", "http-reuse always\n  server b1 127.0.0.1:3\n"} {
		if !strings.Contains(web, line) {
			t.Errorf("HAProxy with web lacks %q:\n%s", line, web)
		}
	}
}
