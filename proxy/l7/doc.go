// Package l7 is the balancer's HTTP mode: a reverse proxy on
// net/http/httputil.ReverseProxy that picks a real per request, keeps
// keep-alive pools to the reals (its own small client side: the handler's
// goroutine writes the request and parses the response with net/http's
// Request.Write and ReadResponse, so parsing stays net/http's strict code
// without the Transport's per-connection goroutines), adds X-Forwarded-For/-Host/-Proto as
// HAProxy's "option forwardfor" and nginx's $proxy_add_x_forwarded_for do,
// and retries on another real when connecting fails (before any byte of the
// request was sent, so a retry can never repeat a request).
//
// It must not decide which real gets a request, keep health state, or bind
// listeners: a Picker (package proxy) chooses, and the caller hands in a
// listener (package l4 binds them with IP_FREEBIND).
package l7
