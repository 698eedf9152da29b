// Package config reads had.toml: the TOML schema, its defaults and its
// validation, with every error placed at FILE:LINE:COL and named by key path.
//
// It is the only package that imports go-toml. It turns the file into a plain
// typed Config (net/netip, time.Duration, compiled regexps) that package node maps
// onto ha, link, resource and proxy settings; it starts nothing and opens no
// socket.
//
// Loading runs in three steps, all errors of all steps reported together:
//
//  1. an index of every key's position, from go-toml's unstable parser
//     (which also finds syntax errors);
//  2. a strict decode (DisallowUnknownFields) into raw structs whose leaves are
//     TOML strings, integers and booleans, so that no bad value stops the
//     decode: each StrictMissingError entry becomes one "unknown key" error;
//  3. conversion and validation of every value and cross-field rule (timing
//     order, node names, VIPs, service references), positioned through the
//     index, including every key the element's kind does not take and
//     every key the rest of the file makes moot (moot.go).
//
// Values are converted after decoding rather than in UnmarshalText methods
// because go-toml stops at the first failing UnmarshalText and would hide
// every later error. A value of the wrong TOML type (a string where an
// integer belongs) still stops the decode and is reported alone.
//
// Each section takes its defaults and rules from the package that owns
// the setting (ha, ha/link, ha/vip, ...), except [[service]]: its owners
// are the balancer's (proxy, proxy/check, proxy/nft), which this package
// may not import (only package node joins ha/ and proxy/), so Load and
// Parse read it through Options.Services (node/serviceconf) over the key
// index (Keys), into the one list of errors.
//
// The keys follow Heartbeat's ha.cf and haresources, ldirectord.cf and
// keepalived's garp_* settings where those exist; see DESIGN.md.
package config
