package check

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Spec describes the health check of a service's reals.
type Spec struct {
	// Type is connect, negotiate, http, sip, external, or a positive integer
	// N: connect at every interval and negotiate at every Nth (ldirectord).
	Type string
	// Request is the HTTP path for negotiate, http and N (default "/").
	Request string
	// Host is the HTTP Host header (default: the real's address).
	Host string
	// Receive, for negotiate and N, must match the response body.
	Receive *regexp.Regexp
	// Status is the HTTP status wanted (default 200).
	Status int
	// Program and Args are the external check's command; it runs as
	// `Program Args... VIP VPORT RIP RPORT` (ldirectord's checkcommand order).
	Program string
	Args    []string
	// Virtual is the service address given to external checks as VIP VPORT
	// (0.0.0.0 0 when unset).
	Virtual netip.AddrPort
	// Interval is the time between check starts (default 2s, HAProxy's inter).
	Interval time.Duration
	// Timeout bounds one check (default 1s).
	Timeout time.Duration
	// Rise and Fall are the consecutive successes and failures that change
	// health (default 2 and 3, HAProxy's defaults).
	Rise, Fall int
	// Initial is the health before any check (default StartDown).
	Initial InitialState
	// Rand seeds the SIP check's branch, tag and Call-ID (nil: a fixed seed;
	// they only need to differ between probes, not be secret).
	Rand *rand.Rand
}

// Checker runs one probe of one target. It is safe for concurrent use; the
// error, if any, is a short reason for operators.
type Checker interface {
	Check(ctx context.Context, target netip.AddrPort) error
}

// Defaults.
const (
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = time.Second
	DefaultRise     = 2
	DefaultFall     = 3
)

// WithDefaults returns s with every unset field at its default.
func (s Spec) WithDefaults() Spec {
	if s.Request == "" {
		s.Request = "/"
	}
	if s.Status == 0 {
		s.Status = 200
	}
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Rise == 0 {
		s.Rise = DefaultRise
	}
	if s.Fall == 0 {
		s.Fall = DefaultFall
	}
	return s
}

// Validate reports the first problem in s (after defaults).
func (s Spec) Validate() error {
	s = s.WithDefaults()
	switch {
	case s.Interval < 0:
		return fmt.Errorf("check: interval %v is negative", s.Interval)
	case s.Timeout < 0:
		return fmt.Errorf("check: timeout %v is negative", s.Timeout)
	case s.Rise < 0 || s.Fall < 0:
		return fmt.Errorf("check: rise %d and fall %d must be at least 1", s.Rise, s.Fall)
	case s.Status < 100 || s.Status > 599:
		return fmt.Errorf("check: status %d is not an HTTP status (100..599)", s.Status)
	case !strings.HasPrefix(s.Request, "/"):
		return fmt.Errorf("check: request %q must be a path starting with /", s.Request)
	case s.Initial < StartDown || s.Initial > StartFullyDown:
		return fmt.Errorf("check: initial state %d unknown", s.Initial)
	}
	switch s.Type {
	case "connect", "sip":
	case "negotiate":
	case "http":
		if s.Receive != nil {
			return fmt.Errorf("check: receive %q needs type negotiate (or N), not http", s.Receive)
		}
	case "external":
		if s.Program == "" {
			return fmt.Errorf("check: external check needs a program")
		}
	default:
		n, err := strconv.Atoi(s.Type)
		if err != nil || n < 1 {
			return fmt.Errorf("check: unknown type %q, want connect, negotiate, http, sip, external or a positive number", s.Type)
		}
	}
	return nil
}

// New returns the Checker for spec (defaults applied).
func New(spec Spec) (Checker, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	s := spec.WithDefaults()
	switch s.Type {
	case "connect":
		return &ConnectChecker{Timeout: s.Timeout}, nil
	case "negotiate", "http":
		return newHTTPChecker(s), nil
	case "sip":
		return newSIPChecker(s), nil
	case "external":
		return &ExternalChecker{Program: s.Program, Args: s.Args, Virtual: s.Virtual, Timeout: s.Timeout}, nil
	}
	n, _ := strconv.Atoi(s.Type)
	neg := s
	neg.Type = "negotiate"
	return &MixedChecker{N: n, Connect: &ConnectChecker{Timeout: s.Timeout}, Negotiate: newHTTPChecker(neg)}, nil
}

// Interface guards.
var (
	_ Checker = (*ConnectChecker)(nil)
	_ Checker = (*HTTPChecker)(nil)
	_ Checker = (*SIPChecker)(nil)
	_ Checker = (*ExternalChecker)(nil)
	_ Checker = (*MixedChecker)(nil)
)
