package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// maxBody bounds how much of a response body is read and matched.
const maxBody = 64 << 10

// HTTPChecker is a check that sends GET Request and passes when the status is
// Status and, if Receive is set, the body matches it (ldirectord
// checktype=negotiate with service=http; Kind "http" checks the status only).
//
// Each check is a new connection (no keep-alive), so a real whose listener
// hangs is noticed, and redirects are not followed: a 301 is a 301.
type HTTPChecker struct {
	Kind    string // "negotiate" or "http": the reasons' prefix
	Request string
	Host    string
	Receive *regexp.Regexp
	Status  int
	Timeout time.Duration

	client *http.Client
}

// dialError marks a failure to connect, so reasons can say "connect".
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func newHTTPChecker(s Spec) *HTTPChecker {
	tr := &http.Transport{
		Proxy:                  nil, // never an environment proxy: check the real itself
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 16 << 10,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &dialError{err}
			}
			return c, nil
		},
	}
	return &HTTPChecker{
		Kind: s.Type, Request: s.Request, Host: s.Host, Receive: s.Receive, Status: s.Status, Timeout: s.Timeout,
		client: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Check runs one request against target.
func (c *HTTPChecker) Check(ctx context.Context, target netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	u := &url.URL{Scheme: "http", Host: target.String()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Kind, err)
	}
	// Request is a path with an optional query; set it raw so it is sent as configured.
	req.URL.Opaque = c.Request
	if c.Host != "" {
		req.Host = c.Host
	}
	req.Header.Set("User-Agent", "hapair-check")
	resp, err := c.client.Do(req)
	if err != nil {
		return c.reason(target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != c.Status {
		return fmt.Errorf("%s: status %d, want %d", c.Kind, resp.StatusCode, c.Status)
	}
	if c.Receive == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if isTimeout(err) {
			return fmt.Errorf("%s: reading body: timeout after %v", c.Kind, c.Timeout)
		}
		return fmt.Errorf("%s: reading body: %w", c.Kind, err)
	}
	if !c.Receive.Match(body) {
		return fmt.Errorf("%s: body does not match %q", c.Kind, c.Receive.String())
	}
	return nil
}

func (c *HTTPChecker) reason(target netip.AddrPort, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var de *dialError
	switch {
	case isTimeout(err):
		return fmt.Errorf("%s: timeout after %v", c.Kind, c.Timeout)
	case errors.As(err, &de):
		return reason(c.Kind+": connect "+target.String(), de.err, c.Timeout)
	case strings.Contains(err.Error(), "malformed HTTP"):
		return fmt.Errorf("%s: malformed HTTP response", c.Kind)
	case strings.Contains(err.Error(), "readLoopPeekFailLocked"):
		// net/http's wording when the server spoke before the request was sent.
		return fmt.Errorf("%s: malformed HTTP response (sent before the request)", c.Kind)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: connection closed before a full response", c.Kind)
	}
	return reason(c.Kind, err, c.Timeout)
}
