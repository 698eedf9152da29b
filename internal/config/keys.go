package config

import (
	"net/netip"
	"regexp"
	"time"
)

// ServiceRules reads the [[service]] section. Its defaults and rules
// belong to the balancer (proxy, proxy/check, proxy/nft), which this
// package may not import: only package node joins ha/ and proxy/
// (test/archtest), so node passes them in (node/serviceconf).
type ServiceRules interface {
	// Services converts and validates every [[service]] as written
	// (rs[i] is service[i]), reporting each problem through k, and
	// returns the services with their defaults filled, in file order.
	// It runs before the groups are read, which name the services.
	Services(k *Keys, rs []RawService) []Service
	// Overlap reports whether listeners on a and b cannot both be bound
	// (the balancer's rule, which the cross-checks with heartbeat links,
	// conntrack-sync and the admin listener apply).
	Overlap(a, b netip.AddrPort) bool
}

// Keys is the key index and the error list of the file being read, for
// a section reader outside this package (ServiceRules): each read
// reports a bad value at its key path with FILE:LINE:COL, as this
// package's own readers do, into the file's one list of errors. A path
// is a key path as errors name it: "service[1].check.interval".
type Keys struct{ c *conv }

// Has reports whether path was written in the file.
func (k *Keys) Has(path string) bool { return k.c.ix.has(path) }

// Required reports whether path was written, reporting "required" at it
// when not.
func (k *Keys) Required(path string) bool { return k.c.required(path) }

// At is where a problem with path is reported: its value, else its key,
// else the nearest written parent.
func (k *Keys) At(path string) Pos { return k.c.ix.at(path) }

// ChildKeys returns the keys written directly under the table at path,
// sorted.
func (k *Keys) ChildKeys(path string) []string { return k.c.ix.childKeys(path) }

// Wrong reports whether a reader, or a domain package's rules (Domain),
// already found the key at path wrong.
func (k *Keys) Wrong(path string) bool { return k.c.read[path] || k.c.ruled[path] }

// Errorf reports a problem with the value at path.
func (k *Keys) Errorf(path, format string, args ...any) { k.c.errorf(path, format, args...) }

// KeyErrorf reports a problem with the key at path itself (a key the
// element's settings do not use), placed at the key.
func (k *Keys) KeyErrorf(path, format string, args ...any) { k.c.keyErrorf(path, format, args...) }

// Warnf records a warning about the key at path (Config.Warnings).
func (k *Keys) Warnf(path, format string, args ...any) { k.c.warnf(path, format, args...) }

// Domain reports the field errors (internal/field) of a domain package's
// Validate at the key paths keyPath maps their paths to, except at keys
// already found wrong.
func (k *Keys) Domain(err error, keyPath func(string) string) { k.c.domain(err, keyPath) }

// Str is the string at path, def when it is not written; an empty string
// is an error.
func (k *Keys) Str(path, v, def string) string { return k.c.str(path, v, def) }

// Name is the required name at path: 1..max bytes of A-Z a-z 0-9 . _ -
// (ValidName).
func (k *Keys) Name(path, v string, max int) string { return k.c.name(path, v, max) }

// Ifname is the interface name at path, reporting one no Linux interface
// can have (IfnameError).
func (k *Keys) Ifname(path, v string) string { return k.c.ifname(path, v) }

// Duration is the Go duration at path, def when it is not written;
// zeroOK takes "0" (off).
func (k *Keys) Duration(path, v string, def time.Duration, zeroOK bool) time.Duration {
	return k.c.duration(path, v, def, zeroOK)
}

// Integer is the integer at path within lo..hi, def when it is not
// written or out of range.
func (k *Keys) Integer(path string, v, def, lo, hi int64) int64 {
	return k.c.integer(path, v, def, lo, hi)
}

// OneOf is the value at path if it is one of allowed, def when it is not
// written or not allowed.
func (k *Keys) OneOf(path, v, def string, allowed ...string) string {
	return k.c.oneOf(path, v, def, allowed...)
}

// AddrPort is the "IP:PORT" at path; defPort, when not 0, fills a
// missing port.
func (k *Keys) AddrPort(path, v string, defPort uint16) netip.AddrPort {
	return k.c.addrPort(path, v, defPort)
}

// HostPort is the address at path written as "IP", "IP:PORT", "HOST" or
// "HOST:PORT", HOST resolved now; host is the name written ("" for an
// address).
func (k *Keys) HostPort(path, v string, defPort uint16) (ap netip.AddrPort, host string) {
	return k.c.hostPort(path, v, defPort)
}

// Regexp compiles the regular expression at path; one that does not
// compile is an error, and Regexp returns one matching everything so
// the reading goes on.
func (k *Keys) Regexp(path, v string) *regexp.Regexp {
	re, err := regexp.Compile(v)
	if err != nil {
		k.c.errorf(path, "compiling regular expression %q: %v", v, err)
		return regexp.MustCompile("")
	}
	return re
}
