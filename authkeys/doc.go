// Package authkeys reads Heartbeat's authkeys file and turns it into a
// Keyring that signs and verifies heartbeat packets.
//
// It owns the file format, the algorithm policy and the file-permission
// policy; it does not know the packet layout (package ha/wire does) and it
// never logs: problems that are not fatal come back as warning strings.
//
// # Format
//
// The format is Heartbeat's (http://linux-ha.org/authkeys), unchanged, so an
// existing /etc/ha.d/authkeys can be copied as is:
//
//	# comment lines start with '#'; blank lines are ignored
//	auth 2
//	1 sha1 old secret kept while the peer is upgraded
//	2 sha256 4f9c1e0d8a...
//
// "auth N" picks the key that signs; every listed key verifies, so keys rotate
// without downtime: add the new key on both nodes, move "auth" to it on both,
// then drop the old one. Key ids are 1..255. The secret is the rest of the
// line after the method with surrounding white space removed, as Heartbeat
// reads it, so it may contain spaces and '#'.
//
// # Policy
//
// sha256 (HMAC-SHA256) is the method to use. sha1 and md5 are accepted with a
// warning, so a Heartbeat cluster can be migrated; crc is refused because a
// checksum authenticates nothing. Load refuses a file that group or others can
// access (Heartbeat's rule; the error says to run chmod 600) and a file owned
// by anyone but root or the running user.
//
// # Concurrency
//
// A Keyring is immutable after Parse or Load and safe for concurrent use. The
// zero Keyring holds no key: Sign returns key id 0 and a nil MAC, Verify
// returns false.
//
// Package authkeys is pure apart from Load, which reads one file: it imports
// only the standard library, keeps no global state, never reads the clock.
package authkeys
