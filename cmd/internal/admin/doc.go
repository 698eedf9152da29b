// Package admin is had's optional admin listener (DESIGN.md "Observability
// and operations"): Prometheus metrics at /metrics, the JSON documents of
// `hactl status -o json` and `hactl services -o json` at /api/v1/status and
// /api/v1/services, and a read-only HTML status page at /.
//
// It only reads: every request takes fresh snapshots from a Source (plain
// structs from internal/ctl and proxy) and nothing it serves
// changes the node. It is the only package that imports
// github.com/prometheus/client_golang (test/archtest enforces it), so the
// rest of the tree keeps plain Stats structs. Metric names follow the
// Prometheus naming conventions (base units, _total counters) and are
// linted by a test.
//
// The listener is off unless configured, and binds only a loopback address
// unless the operator opts in to a remote one: it is unauthenticated, like
// node_exporter's and HAProxy's stats page by default.
package admin
