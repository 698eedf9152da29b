// Package l7 is the balancer's HTTP mode: a reverse proxy that picks a
// real per request, keeps keep-alive pools to the reals, adds
// X-Forwarded-For/-Host/-Proto as HAProxy's "option forwardfor" and
// nginx's $proxy_add_x_forwarded_for do, and retries on another real when
// connecting fails (before any byte of the request was sent, so a retry
// can never repeat a request).
//
// Two paths serve a client connection. The fast path (conn.go, head.go,
// forward.go, body.go) is its own HTTP/1.1 forwarder: one goroutine per
// client connection reads each request head from a pooled buffer, parses
// the common subset of HTTP/1.1 and HTTP/1.0 itself, sends it on a pooled
// connection to the real and streams the answer back, with no Request,
// Header or per-request goroutine. Anything outside that subset (chunked
// or Expect requests, upgrades such as WebSocket, heads larger than the
// buffer, anything odd) hands the connection to the slow path, net/http's
// server with httputil.ReverseProxy over the same pool (exchange.go), which
// serves or refuses it exactly as it did before the fast path. The fast
// path's connections are accept4(2) descriptors (package accept) read and
// written without the net package (sock.go); a hand-off gives net/http a
// net.TCPConn on a duplicate.
//
// It must not decide which real gets a request, keep health state, or bind
// listeners: a Picker (package proxy) chooses, and the caller hands in a
// listener (package l4 binds them with IP_FREEBIND).
package l7
