// Package psync is the persistence-sync protocol: the messages an owner
// sends so its peers hold the same client-IP affinity entries (ipvsadm -p
// templates) and a sticky client keeps its real after a failover, and the
// bookkeeping that says whether a peer has caught up. It plays the part of
// the IPVS sync daemon's persistence templates (LVSSyncDaemonSwap) for the
// embedded balancer.
//
// It owns the message encoding (MarshalBinary/UnmarshalBinary, fuzzed) and
// the pure per-peer state: In tracks what this node received from one
// sender (in order, or with a gap that needs a full resync), Out decides
// when a sender owes a peer a full resync. It must not do I/O, read the
// clock or log: package node carries the messages as the opaque payload of
// authenticated heartbeat-format packets on their own sockets (ha/link on
// the heartbeat port + 1), which gives them the cluster keyring's MAC, the
// TTL-255 guard and (generation, seq) replay protection, and it runs the
// loop.
//
// # Wire format
//
// Every message is one datagram payload (at most 1024 bytes):
//
//	message = version(1)=1 type(1) n(uvarint) body
//	Hello   (type 1) body = count(1) ack{count}
//	ack     = nameLen(1) name generation(uvarint) n(uvarint) flags(1, bit 0 = synced)
//	Delta   (type 2) body = chunk
//	Begin   (type 3) body = epoch(uvarint)
//	Part    (type 4) body = epoch(uvarint) chunk
//	End     (type 5) body = epoch(uvarint) parts(uvarint)
//
// n numbers a sender's messages within its generation from 1, one counter
// for every type, so a receiver sees a lost message as a gap. chunk is
// proxy/persist's encoding (service name, then entries with time left), opaque
// here. A Hello says, per sender heard, the generation and last n received
// in order and whether the receiver holds that sender's whole table (a
// full resync arrived complete and no message was lost since); a sender
// answers synced=false with a full resync: Begin, its table as Parts, End
// with the number of Parts. Changes (new and refreshed entries) travel as
// Deltas. An expired entry travels as nothing: the peer's copy carries the
// same expiry and expires by itself.
package psync
