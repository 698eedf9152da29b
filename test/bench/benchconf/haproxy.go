// Package benchconf writes the configs of the proxies hapair is measured
// against, so that the user-space bench (test/bench) and the kernel nat
// bench (test/kernel) run one HAProxy setup.
package benchconf

import (
	"fmt"
	"strings"
)

// HAProxy returns an haproxy.cfg (HAProxy configuration manual, sections
// global, defaults, frontend, backend): a round-robin tcp frontend bound
// to l4 and, when web is not empty, an http one bound to web adding
// X-Forwarded-For, both over reals (host:port, named b1, b2, …). threads
// is nbthread. There are no health checks: hapair's side runs none in the
// benches either.
func HAProxy(threads int, l4, web string, reals ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
  nbthread %d
  maxconn 4000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  maxconn 4000
frontend l4
  mode tcp
  bind %s
  default_backend l4b
backend l4b
  mode tcp
  balance roundrobin
`, threads, l4)
	servers(&b, reals)
	if web == "" {
		return b.String()
	}
	fmt.Fprintf(&b, `frontend web
  mode http
  bind %s
  option forwardfor
  default_backend webb
backend webb
  mode http
  balance roundrobin
  # Share idle server connections between clients, as nginx's upstream
  # keepalive pool and hapair's per-real pool do; HAProxy's default
  # ("safe") opens a new server connection for each client's first request.
  http-reuse always
`, web)
	servers(&b, reals)
	return b.String()
}

func servers(b *strings.Builder, reals []string) {
	for i, r := range reals {
		fmt.Fprintf(b, "  server b%d %s\n", i+1, r)
	}
}
