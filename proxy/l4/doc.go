// Package l4 forwards TCP connections and UDP datagrams to real servers for
// one virtual service, the way IPVS in NAT mode or HAProxy in "mode tcp" do,
// but in user space.
//
// It owns: listeners bound with IP_FREEBIND (so a standby node binds the VIP
// before it holds it, and a takeover costs only the address move), a TCP
// connection's setup (accept, connect with retries on another real), done
// by the event loops themselves (package evloop: the listener is a Socket
// of every loop, accept4(2) on its EPOLLIN), which then relay both sockets
// (recv(2) and send(2) on epoll's events, as HAProxy does), half-close, connect and idle
// timeouts, and the UDP per-client flow table (SIP is the reference use; the service
// socket is read with recvmmsg(2), several datagrams per call).
//
// It must not decide which real gets a connection, keep health state or log
// per packet: a Picker (package proxy) chooses reals, and connection counts
// go back through Upstream.AddConns in ipvsadm's terms (ActiveConn,
// InActConn).
package l4
