package serviceconf

import (
	"strings"
	"testing"
	"time"
)

// TestServiceLimits: an http service's limits and timeouts are read as
// written, and max_flows, a udp service's, stays unset.
func TestServiceLimits(t *testing.T) {
	in := minimal + strings.Replace(svc, `listen = "198.18.0.100:80"`,
		"listen = \"198.18.0.100:80\"\nmode = \"http\"\nmaxconn = 500\nrequest_timeout = \"5s\"\nbody_timeout = \"20s\"", 1)
	c, err := parse(in, "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services[0]
	if s.MaxConn != 500 || s.RequestTimeout != 5*time.Second || s.BodyTimeout != 20*time.Second || s.MaxFlows != 0 {
		t.Errorf("Service = maxconn %d, request %v, body %v, max_flows %d; want 500, 5s, 20s, 0", s.MaxConn, s.RequestTimeout, s.BodyTimeout, s.MaxFlows)
	}
}
