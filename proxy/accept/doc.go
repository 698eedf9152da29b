// Package accept takes a TCP listener's queued connections with
// accept4(2) as descriptors of the caller's own, for the balancer's fast
// paths (proxy/l4's event loops, proxy/l7's client connections).
//
// (*net.TCPListener).Accept makes a net.TCPConn for every connection: an
// epoll_ctl into Go's poller (and out again at Close), getsockname,
// setsockopt for TCP_NODELAY and TCP keepalive, a finalizer and four
// allocations. HAProxy and nginx pay accept4 and close. Here a connection
// costs accept4 alone; waiting for one, when none is queued, is a park in
// Go's poller on an epoll instance holding the listener, and one
// epoll_wait without waiting to re-arm it, all without the runtime's
// syscall entry (whose wake-ups of the sysmon thread cost the proxy's
// CPU a context switch every few connections).
//
// It does not set socket options on the connections (the caller chooses:
// l4 sets TCP_NODELAY, as the net package does) and does not close them.
package accept
