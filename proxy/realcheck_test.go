package proxy

import (
	"regexp"
	"testing"
	"time"

	"github.com/hapair/hapair/internal/testkit"
	"github.com/hapair/hapair/proxy/check"
	"github.com/hapair/hapair/proxy/proxytest"
)

// A real's own request and receive (ldirectord's per-real strings) replace
// the service's for that real only. proxytest's HTTP backends answer
// /status with "ok" and any other path with their name.
func TestRealOwnCheck(t *testing.T) {
	a, c, d := proxytest.HTTP(t, "a"), proxytest.HTTP(t, "c"), proxytest.HTTP(t, "d")
	listen := proxytest.ClosedPort(t)
	b := newBalancer(t, Config{Services: []ServiceConfig{{
		Name: "web", Listen: listen, Mode: "http",
		Check: check.Spec{Type: "negotiate", Request: "/status", Receive: regexp.MustCompile("^ok$"),
			Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 1, Fall: 1},
		Reals: []RealConfig{
			{Address: a.Addr, Weight: 1},
			{Address: c.Addr, Weight: 1, Receive: regexp.MustCompile("^nomatch$")},
			{Address: d.Addr, Weight: 1, Request: "x", Receive: regexp.MustCompile("^d$")},
		},
	}}})
	want := map[string]bool{a.Addr.String(): true, c.Addr.String(): false, d.Addr.String(): true}
	testkit.WaitFor(t, "a and d healthy, c down", func() bool {
		st := svcStatus(t, b, "web")
		checked := 0
		for _, r := range st.Reals {
			if r.Healthy != want[r.Address] {
				return false
			}
			if r.Checks > 0 {
				checked++
			}
		}
		return checked == 3
	})
}
