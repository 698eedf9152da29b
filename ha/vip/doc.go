// Package vip is the `vip` resource: a virtual IP address added to an
// interface with a label (like Heartbeat's IPaddr2 and keepalived's
// virtual_ipaddress) and announced with gratuitous ARP (RFC 5227 §3, RFC
// 826) or, for IPv6, unsolicited neighbour advertisements (RFC 4861 §7.2.6).
//
// It owns one address: adding it (idempotently, taking over a stale copy
// that hapair added), announcing it on a schedule that is a pure function
// of (takeover time, now) — see Schedule — re-announcing when asked, and
// removing it. It does not decide who owns the address; the agent does.
//
// It changes only what it owns: every address it adds carries the kernel
// address protocol Proto (IFA_PROTO 94), and an address without it (the
// host's own, a link's, one added by hand) is never taken over or removed.
// Every address gets a finite kernel lifetime (Config.Lifetime, default 4s)
// that the VIP refreshes every Lifetime/4 while held, adding the address
// back when it went missing; so a daemon killed outright leaves no address
// answering ARP for longer than Lifetime + 1s. LinkChanged and AddrRemoved
// take the kernel's events (Netlink.Watch) so the owner hands a group over
// when the VIP's interface goes down, and repairs a removed VIP at once.
//
// The kernel is reached only through the Kernel interface (netlink in
// production, a text-trace fake in tests) and the wire only through Sender
// (mdlayher/arp and x/net/ipv6 in production). Time comes from a Clock.
// Unit tests need no root: they use the fakes and loopback UDP conns.
package vip
