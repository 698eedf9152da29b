package serviceconf

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hapair/hapair/internal/config"
)

// The syntax ldirectord and Zeus users write: checktype off, a request
// without "/", host names for reals, backups and the fallback.
func TestLegacySyntax(t *testing.T) {
	tests := []struct {
		desc    string
		service string
		check   func(t *testing.T, s config.Service)
		wantErr string
	}{
		{desc: "check type off on tcp", service: `check = { type = "off" }
reals = [ { address = "198.18.1.11:80" } ]`, check: func(t *testing.T, s config.Service) {
			if s.Check.Type != "" {
				t.Errorf("Check.Type = %q, want \"\" (no check)", s.Check.Type)
			}
		}},
		{desc: "check type off on udp", service: `protocol = "udp"
check = { type = "off" }
reals = [ { address = "198.18.1.11:80" } ]`, check: func(t *testing.T, s config.Service) {
			if s.Check.Type != "" {
				t.Errorf("Check.Type = %q, want \"\"", s.Check.Type)
			}
		}},
		{desc: "check type off with other keys", service: `check = { type = "off", interval = "1s" }
reals = [ { address = "198.18.1.11:80" } ]`, wantErr: `service[0].check.interval: key "interval" is not used by check type "off" (no checks run)`},
		{desc: "request without a slash", service: `check = { type = "negotiate", request = "index.html", receive = "Test Page" }
reals = [ { address = "198.18.1.11:80" } ]`, check: func(t *testing.T, s config.Service) {
			if s.Check.Request != "/index.html" {
				t.Errorf("Check.Request = %q, want /index.html", s.Check.Request)
			}
		}},
		{desc: "host names", service: `fallback = "sorry"
reals = [ { address = "web1" }, { address = "web2:8080", weight = 2 }, { address = "198.18.1.30" } ]
backups = [ { address = "localhost:9080" } ]`, check: func(t *testing.T, s config.Service) {
			want := []config.Real{{Address: netip.MustParseAddrPort("198.18.1.21:80"), Host: "web1", Weight: 1},
				{Address: netip.MustParseAddrPort("198.18.1.22:8080"), Host: "web2", Weight: 2}, {Address: netip.MustParseAddrPort("198.18.1.30:80"), Weight: 1}}
			for i, r := range want {
				if i >= len(s.Reals) || s.Reals[i] != r {
					t.Errorf("Reals = %+v, want %+v", s.Reals, want)
					break
				}
			}
			if b := s.Backups[0]; b.Address != netip.MustParseAddrPort("127.0.0.1:9080") || b.Host != "localhost" {
				t.Errorf("Backups[0] = %+v, want localhost's IPv4 address", b)
			}
			if s.Fallback != netip.MustParseAddrPort("198.18.1.99:80") || s.FallbackHost != "sorry" {
				t.Errorf("Fallback = %v (%q), want sorry's address", s.Fallback, s.FallbackHost)
			}
		}},
		{desc: "per-real request and receive", service: `check = { type = "negotiate", request = "/status", receive = "ok" }
reals = [ { address = "198.18.1.11:80", request = "health.html", receive = "OKAY" }, { address = "198.18.1.12:80" } ]`, check: func(t *testing.T, s config.Service) {
			r := s.Reals[0]
			if r.Request != "/health.html" || r.Receive == nil || r.Receive.String() != "OKAY" {
				t.Errorf("Reals[0] = %+v, want its own request /health.html and receive OKAY", r)
			}
			if s.Reals[1].Request != "" || s.Reals[1].Receive != nil {
				t.Errorf("Reals[1] = %+v, want the service's check", s.Reals[1])
			}
			spec := Spec(s)
			if got := spec.RealCheck(spec.Reals[0]); got.Request != "/health.html" || got.Receive.String() != "OKAY" {
				t.Errorf("RealCheck(reals[0]) = %+v", got)
			}
		}},
		{desc: "per-real receive on a connect check", service: `reals = [ { address = "198.18.1.11:80", receive = "OKAY" } ]`,
			wantErr: `service[0].reals[0].receive: key "receive" is not used by the service's check type "connect"`},
		{desc: "per-real request with check type off", service: `check = { type = "off" }
reals = [ { address = "198.18.1.11:80", request = "/x" } ]`,
			wantErr: `service[0].reals[0].request: the service has no check (type off), so no request is sent`},
		{desc: "a name that does not resolve", service: `reals = [ { address = "web9:80" } ]`,
			wantErr: `t.toml:22:23: service[0].reals[0].address: host name "web9" does not resolve: lookup web9: no such host`},
		{desc: "a mistyped address is not looked up", service: `reals = [ { address = "198.18.1" } ]`,
			wantErr: `service[0].reals[0].address: "198.18.1" is not an address`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			// svc's service with the case's keys for its reals line.
			text := strings.Replace(minimal+svc, "reals = [ { address = \"198.18.1.11:80\" } ]\n", tc.service+"\n", 1)
			cfg, err := parse(text, "t.toml")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v\n%s", err, text)
			}
			tc.check(t, cfg.Services[0])
		})
	}
}
