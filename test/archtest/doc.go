// Package archtest guards the module's architecture (STYLE.md rule 14, after
// tailscale's deptest and pkgdoc tests): the pure packages (ha, ha/wire,
// ha/replay, ha/resource, authkeys, proxy/sched, proxy/persist and the
// shared leaves internal/field, internal/fwd, internal/groupstate) import
// nothing that does I/O and never read the clock or the global RNG; every
// package has a doc comment; ha/... and proxy/... never import each other;
// fakes and the test kit (*test packages, internal/testkit) stay in tests;
// the forwarding methods' names are spelt only in internal/fwd.
// It holds only tests, needs no root and touches no network.
package archtest
