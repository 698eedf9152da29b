// Package persist keeps client-IP persistence ("affinity") for a virtual
// service: after a client's first connection goes to a real, later ones from
// the same address go to the same real until the client has been silent for
// the timeout, like `ipvsadm -p TIMEOUT` (IPVS persistence templates) and
// ldirectord's persistent= setting.
//
// It owns the table, its expiry and bound, and the compact binary form of its
// entries that the standby receives inside the heartbeat's opaque payload
// (MarshalEntries/UnmarshalEntries), so sticky clients keep their real after
// a failover. It must not do I/O, start goroutines, log, or read the clock:
// time comes from the now function given to New, and the caller calls Expire
// and Export on its own schedule.
//
// # Usage
//
//  1. t := New(timeout, time.Now) per service with persistence.
//  2. Per new connection: if real, ok := t.Lookup(client); ok and the real
//     is still usable, use it (Lookup refreshes the entry); otherwise let the
//     scheduler pick and t.Put(client, real).
//  3. When a real is removed (or fails, if clients should move), t.Forget(real).
//  4. Every second or so, t.Expire(). On the active node, send
//     MarshalEntries(service, t.Export(), now, 1024) chunks; on the standby,
//     name, es, err := UnmarshalEntries(chunk, now), then that service's
//     table's Import(es).
package persist
