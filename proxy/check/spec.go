package check

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hapair/hapair/internal/field"
	"github.com/hapair/hapair/internal/probe"
)

// Spec describes the health check of a service's reals.
type Spec struct {
	// Type is connect, negotiate, http, sip, external, or a positive integer
	// N: connect at every interval and negotiate at every Nth (ldirectord).
	// "" means no check: every real counts as up (had.toml's type = "off",
	// ldirectord's checktype=on).
	Type string
	// Request is the HTTP path for negotiate, http and N (default "/";
	// "index.html" means "/index.html", see NormalizeRequest).
	Request string
	// Host is the HTTP Host header (default: the real's address).
	Host string
	// Receive, for negotiate and N, must match the response body.
	Receive *regexp.Regexp
	// Status is the HTTP status wanted (default 200).
	Status int
	// Port is the port the check connects to on each real's address,
	// 1..65535, instead of the real's own (HAProxy's "check port",
	// keepalived's connect_port, ldirectord's checkport); 0: the real's
	// own port. The types that connect use it; external checks get the
	// real's own port as RPORT.
	Port int
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

// Defaults, HAProxy's where it has one (inter 2s, rise 2, fall 3).
const (
	DefaultType     = "connect" // for tcp services that name no type (ldirectord's connect)
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = time.Second // or Interval when shorter
	DefaultRise     = 2
	DefaultFall     = 3
	DefaultRequest  = "/" // for types that send an HTTP request
	DefaultStatus   = 200 // for types that check an HTTP status
	// MaxRiseFall bounds rise and fall: a real that needs more than 100
	// checks in a row to change state is never going to.
	MaxRiseFall = 100
)

// NormalizeRequest puts a leading "/" on a request path written without
// one, as ldirectord does (it requests http://HOST:PORT/ followed by the
// request; its own example is request="index.html"). "" stays "".
func NormalizeRequest(r string) string {
	if r != "" && !strings.HasPrefix(r, "/") && !strings.Contains(r, "://") {
		return "/" + r
	}
	return r
}

// RequestProblem says what is wrong with r as the path an HTTP check
// requests, or returns "" when r is one: it must start with "/" and, as an
// RFC 9112 section 3.2 request-target, hold no white space or controls
// (net/http refuses to send those, so every probe would fail) and no
// fragment: a "#" is the client's own (RFC 9110 section 4.2.5; browsers
// and ldirectord's LWP never send it), and net/http would send it as
// part of the path.
func RequestProblem(r string) string {
	switch {
	case !strings.HasPrefix(r, "/"):
		return fmt.Sprintf("%q: want an HTTP path starting with /", r)
	case strings.ContainsFunc(r, func(c rune) bool { return c <= ' ' || c == 0x7f }):
		return fmt.Sprintf("%q: an HTTP path holds no spaces or control characters (percent-encode them, e.g. %%20)", r)
	case strings.Contains(r, "#"):
		return fmt.Sprintf("%q: an HTTP request holds no fragment (#...): a client keeps it to itself; drop it, or percent-encode a '#' that is part of the path as %%23", r)
	}
	return ""
}

// HostProblem says what is wrong with h as the Host header an HTTP check
// sends, or returns "" when h is one (or is "", the real's address):
// RFC 9110 section 7.2's uri-host with an optional ":port" (RFC 3986
// section 3.2.2: unreserved and sub-delims characters, '%' escapes, ':'
// and an IP literal's brackets), so no white space or controls, which
// would end the header line and start another. net/http refuses to send
// any other ASCII byte, so every probe would fail; it turns a name with
// non-ASCII letters into punycode itself.
func HostProblem(h string) string {
	switch {
	case strings.ContainsFunc(h, func(c rune) bool { return c <= ' ' || c == 0x7f }):
		return fmt.Sprintf("%q: an HTTP Host header holds no spaces or control characters (a host name or address, optionally :port)", h)
	case strings.ContainsAny(h, "\"#/<>?@\\^`{|}"):
		return fmt.Sprintf("%q: want a host name or address, optionally :port, as an HTTP Host header (RFC 9110 section 7.2)", h)
	}
	return ""
}

// WithDefaults returns s with every unset field its type uses at its
// default, and a request path without a leading "/" given one
// (NormalizeRequest); fields the type does not use stay as they are, so
// Validate can report them.
func (s Spec) WithDefaults() Spec {
	t, _ := Lookup(s.Type)
	if s.Request == "" && t.uses("request") {
		s.Request = DefaultRequest
	}
	s.Request = NormalizeRequest(s.Request)
	if s.Status == 0 && t.uses("status") {
		s.Status = DefaultStatus
	}
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = min(DefaultTimeout, s.Interval)
	}
	if s.Rise == 0 {
		s.Rise = DefaultRise
	}
	if s.Fall == 0 {
		s.Fall = DefaultFall
	}
	return s
}

// Validate reports every problem in s (after defaults) as *field.Error
// values named by config keys: "type", "interval", "timeout", "rise",
// "fall", and the type's own keys. A setting the type does not use is an
// error (a check that silently ignores its request is worse than none).
func (s Spec) Validate() error {
	s = s.WithDefaults()
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, field.Errorf(path, format, args...)) }
	timing(bad, s.Interval, s.Timeout, "a hung real would be probed once per timeout, so fall × interval would not bound detection")
	if s.Rise < 1 || s.Rise > MaxRiseFall {
		bad("rise", "%d is out of range 1..%d", s.Rise, MaxRiseFall)
	}
	if s.Fall < 1 || s.Fall > MaxRiseFall {
		bad("fall", "%d is out of range 1..%d", s.Fall, MaxRiseFall)
	}
	if s.Initial < StartDown || s.Initial > StartFullyDown {
		bad("", "initial state %d unknown", s.Initial)
	}
	t, err := Lookup(s.Type)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, k := range keys {
		if k.set(&s) && !t.uses(k.name) {
			errs = append(errs, UnusedKey(s.Type, k.name))
		}
	}
	if t.uses("port") && (s.Port < 0 || s.Port > 65535) {
		bad("port", "%d is out of range 1..65535", s.Port)
	}
	if t.uses("status") && (s.Status < 100 || s.Status > 599) {
		bad("status", "%d is not an HTTP status (100..599)", s.Status)
	}
	if p := RequestProblem(s.Request); t.uses("request") && p != "" {
		bad("request", "%s", p)
	}
	if p := HostProblem(s.Host); t.uses("host") && p != "" {
		bad("host", "%s", p)
	}
	if t.validate != nil {
		errs = append(errs, t.validate(s))
	}
	return errors.Join(errs...)
}

// New returns the Checker for spec (defaults applied); the error holds
// every problem Validate finds.
func New(spec Spec) (Checker, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	s := spec.WithDefaults()
	t, _ := Lookup(s.Type)
	c := t.build(s)
	if s.Port != 0 {
		c = &portChecker{c: c, port: uint16(s.Port)}
	}
	return c, nil
}

// portChecker probes each target's address at port (Spec.Port): the
// checkers connect to the target they are given, so the port is put in
// once here for every type that connects. An HTTP check's default Host
// header is then that address and port, as HAProxy sends with check port.
type portChecker struct {
	c    Checker
	port uint16
}

func (p *portChecker) Check(ctx context.Context, target netip.AddrPort) error {
	return p.c.Check(ctx, netip.AddrPortFrom(target.Addr(), p.port))
}

// Interface guards.
var (
	_ Checker = (*ConnectChecker)(nil)
	_ Checker = (*HTTPChecker)(nil)
	_ Checker = (*SIPChecker)(nil)
	_ Checker = (*ExternalChecker)(nil)
	_ Checker = (*MixedChecker)(nil)
)

// DefaultMonitorInterval is a Monitor's default Interval, Zeus's example
// TIMEPERIOD; its Timeout defaults to the Interval (a run must end before
// the next one is due).
const DefaultMonitorInterval = 5 * time.Second

// Validate reports every problem in m as *field.Error values named by
// config keys: "script" (required, an absolute path: it runs with no PATH
// search), "interval", "timeout" (at most interval: runs never overlap, so
// a longer one would stretch the interval while a monitor hangs).
func (m Monitor) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, field.Errorf(path, format, args...)) }
	switch {
	case m.Program == "":
		bad("script", "required")
	case !filepath.IsAbs(m.Program):
		bad("script", "%q: want an absolute path", m.Program)
	default:
		errs = append(errs, textErrors("script", m.Program, m.Args))
	}
	m = m.withDefaults()
	timing(bad, m.Interval, m.Timeout, "a hung monitor would run once per timeout, not once per interval")
	return errors.Join(errs...)
}

// timing checks an interval and a timeout (after defaults): both positive,
// the timeout within the interval. Runs never overlap (internal/probe), so
// a longer timeout would stretch the interval; why says what that costs.
func timing(bad func(path, format string, args ...any), interval, timeout time.Duration, why string) {
	switch {
	case interval < 0:
		bad("interval", "%v: want a positive duration", interval)
	case timeout < 0:
		bad("timeout", "%v: want a positive duration", timeout)
	default:
		if key, err := probe.CheckTiming(interval, timeout, why); err != nil {
			bad(key, "%v", err)
		}
	}
}

// WithDefaults returns m with Interval and Timeout at their defaults when
// unset (see DefaultMonitorInterval).
func (m Monitor) WithDefaults() Monitor { return m.withDefaults() }
