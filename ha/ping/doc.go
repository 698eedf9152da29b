// Package ping runs the checks that lower a node's effective priority:
// ping nodes (Heartbeat's ping directive and ipfail: can this node still
// reach the gateway?) with ICMP echo (RFC 792, RFC 4443), and track
// scripts (keepalived's track_script: exit 0 = healthy).
//
// Each is a Check: internal/probe paces it and counts rise/fall (the loop
// and tracker proxy/check uses too), internal/runner runs track scripts,
// and every transition goes to a callback func(name string, ok bool,
// reason string). What a failure costs in priority is the core's decision,
// not this package's. Pings use unprivileged ICMP sockets ("udp4", allowed by
// net.ipv4.ping_group_range) when it can, raw ICMP sockets otherwise.
package ping
