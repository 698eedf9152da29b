// Package testkit holds the helpers hapair's tests share: a bounded
// wait-for and goroutine-leak check (wait.go), an HMAC-SHA256 test keyring
// (keys.go), shell-script fixtures (files.go), loopback ports and an
// accept loop (port.go), a server of one goroutine per connection
// (serve.go), line and substring checks (compare.go) and a
// concurrency-safe log buffer (buffer.go). Tests
// advance a clocktest.Clock instead of sleeping; WaitFor is for conditions
// another goroutine makes true. The fake balancer picker is
// proxy/upstream/upstreamtest, next to the interface it fakes.
//
// It is imported by _test.go files and the other test kits (*test
// packages) only; it must not import ha/ or proxy/
// packages, so that their tests can use it without import cycles.
package testkit
