// Package ctl is the control protocol between hactl and had: one JSON
// request and one JSON response per connection over a Unix socket that only
// root may open (mode 0600), in the spirit of keepalived's and HAProxy's
// stats sockets but structured so scripts never scrape text.
//
// The package owns the socket, the framing and the request/response schema.
// It knows nothing of the state machine or the balancer: the server calls
// the Handler the daemon gives it, and the client returns raw results for
// the CLI to decode. It imports the standard library and two leaves only:
// internal/groupstate (the state names it reports) and internal/pacer.
package ctl
